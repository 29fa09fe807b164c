# One image for the gateway and the simulated plant (docker-compose.yml runs both from it).
#
#   docker build -t plc-gateway .
#   docker run --rm plc-gateway gateway --help
#   docker run -d --init -v ./mappings:/etc/plc-gateway/mappings:ro \
#       -v plc-gateway-buffer:/var/lib/plc-gateway -p 127.0.0.1:9273:9273 \
#       -e INFLUXDB_V2_URL=http://influxdb:8086 -e INFLUXDB_V2_TOKEN=... \
#       -e INFLUXDB_V2_ORG=plant -e INFLUXDB_V2_BUCKET=historian plc-gateway
#   docker run -d --init --no-healthcheck -p 5020:5020 -p 4840:4840 plc-gateway \
#       python -m simulators plant --host 0.0.0.0
#
# Default command: `gateway run` on the tag maps in /etc/plc-gateway/mappings with
# /etc/plc-gateway/container.yaml (health endpoint on 0.0.0.0:9273). Two volumes:
# /etc/plc-gateway/mappings, the tag maps (a folder of yours mounted over it, or a named volume,
# which Docker fills with the bundled maps on first use), and the working directory
# /var/lib/plc-gateway: the SQLite buffer (data/buffer/<sink>.sqlite), refused lines and,
# without INFLUXDB_V2_URL, the line-protocol files (data/) live there. The health check asks /readyz (the simulators have no health
# endpoint: run them with --no-healthcheck or a check of their own, as compose does).

ARG PYTHON_IMAGE=python:3.11-slim

# Builder: the project and every dependency as wheels (all have binary wheels: no compiler
# needed), installed into a virtual environment. Only that environment leaves this stage, so
# neither the wheels, the sources nor pip's cache end up in a layer of the image.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY simulators/ simulators/
RUN pip wheel --wheel-dir /wheels . \
    && python -m venv /opt/plc-gateway \
    && /opt/plc-gateway/bin/pip install --no-index --find-links /wheels plc-gateway \
    && /opt/plc-gateway/bin/pip uninstall --yes pip setuptools

# Runtime: the same slim Python, the environment, the bundled tag maps, an unprivileged user.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/plc-gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# pip is not needed to run anything: packages are installed when the image is built, never
# at run time.
RUN python -m pip uninstall --yes --no-cache-dir pip setuptools wheel \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/plc-gateway \
       --no-create-home --shell /usr/sbin/nologin plc-gateway \
    && mkdir -p /etc/plc-gateway /var/lib/plc-gateway \
    && chown plc-gateway:plc-gateway /var/lib/plc-gateway
COPY --from=builder /opt/plc-gateway /opt/plc-gateway
COPY mappings/ /etc/plc-gateway/mappings/
COPY deploy/gateway/container.yaml /etc/plc-gateway/container.yaml

USER plc-gateway
WORKDIR /var/lib/plc-gateway
# After the COPY of the maps: a new volume starts with what the image holds at its path.
VOLUME ["/var/lib/plc-gateway", "/etc/plc-gateway/mappings"]
# Modbus and OPC UA of the simulated plant, the gateway's health endpoint.
EXPOSE 5020 4840 9273

# /readyz: 200 while the sinks write and a device is up; the answer's text (the reasons for a
# 503) goes to `docker inspect`'s health log. Python's standard library: no curl in slim images.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import http.client, sys; c = http.client.HTTPConnection('127.0.0.1', 9273, timeout=4); c.request('GET', '/readyz'); r = c.getresponse(); print(r.status, r.read().decode().strip()); sys.exit(r.status != 200)"]

CMD ["gateway", "run", "/etc/plc-gateway/container.yaml", "/etc/plc-gateway/mappings"]
