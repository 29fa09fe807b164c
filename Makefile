# The two commands of the README: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
DURATION ?=
# pytest processes: most tests wait on sockets and timers, so three share two cores well.
TEST_WORKERS ?= 3

.PHONY: test demo venv lint clean bench

$(PY):
	python3 -m venv $(VENV) || { apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The real database the tests write to (speaks the InfluxDB v2 write API).
victoria-metrics:
	@command -v victoria-metrics >/dev/null 2>&1 || { \
	  echo "installing victoria-metrics from Debian's packages"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics >/dev/null; }

.PHONY: victoria-metrics

# A real InfluxDB line-protocol parser for the encoder's tests (InfluxDB 1.6's /write).
influxdb:
	@command -v influxd >/dev/null 2>&1 || test -x /usr/bin/influxd || { \
	  echo "installing influxdb from Debian's packages"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb >/dev/null; }

.PHONY: influxdb

# The C library the benchmarks' Modbus server (bench/modbus_server.c) is built against.
libmodbus:
	@test -f /usr/include/modbus/modbus.h || { \
	  echo "installing libmodbus-dev from Debian's packages"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libmodbus-dev >/dev/null; }

.PHONY: libmodbus

# Serial lines for the RTU tests and benchmark: pty pairs joined by socat.
socat:
	@command -v socat >/dev/null 2>&1 || { \
	  echo "installing socat from Debian's packages"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null; }

.PHONY: socat

# `docker-compose config` for the compose test (resolves docker-compose.yml; needs no Docker engine).
# (and openssl: the README's first start makes the stack's secrets with `openssl rand`)
docker-compose:
	@{ command -v docker-compose && command -v openssl; } >/dev/null 2>&1 || { \
	  echo "installing docker-compose and openssl from Debian's packages"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose openssl >/dev/null; }

.PHONY: docker-compose

lint: $(STAMP)
	$(VENV)/bin/ruff check gateway simulators tests bench
	$(VENV)/bin/ruff format --check gateway simulators tests bench
	$(VENV)/bin/mypy

test: $(STAMP) victoria-metrics influxdb libmodbus socat docker-compose lint
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS)

# The main job: simulated plant -> gateway -> files under ./data (or InfluxDB when
# INFLUXDB_V2_URL is set), with a live view. DURATION=20 stops after 20 s.
demo: $(STAMP)
	$(VENV)/bin/gateway demo $(if $(DURATION),--duration $(DURATION)) $(DEMO_ARGS)

bench: $(STAMP) victoria-metrics libmodbus socat
	$(PY) -m bench
	$(PY) -m bench.modbus
	$(PY) -m bench.modbus_rtu

clean:
	rm -rf $(VENV) data .pytest_cache
