"""docker-compose.yml as the real `docker-compose config` resolves it with .env.example (Debian's
docker-compose; `config` needs no Docker engine): the four services, their health checks, start
order, restart policies, volumes and ports; the gateway reads the plant and writes to InfluxDB;
every variable it uses is in .env.example, the secrets without a default and empty there, so
that .env.example alone is refused (the test sets them as a user's .env would)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli import build_parser as gateway_parser
from gateway.config import load_tagmaps
from gateway.runtime.sinkset import effective_sinks
from simulators.cli import build_parser as simulators_parser
from tests.composefile import env_example, gateway_healthcheck, host_ports, used_variables

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_V2_TOKEN", "GRAFANA_ADMIN_PASSWORD")
#: what a user sets in .env before the first start (an exported variable wins over the file)
TEST_SECRETS = {name: f"test-{name.lower()}-0123456789abcdef" for name in SECRETS}


def compose_config(
    env_file: Path, settings: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with PATH and `settings` as the environment, nothing else from
    this shell (a variable exported there would win over the env file)."""
    return subprocess.run(
        [
            *("docker-compose", "--project-directory", str(ROOT), "--env-file", str(env_file)),
            *("--file", str(ROOT / "docker-compose.yml"), "config"),
        ],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **(settings or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    done = compose_config(ROOT / ".env.example", TEST_SECRETS)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_four_services_have_health_checks_and_restart(model):
    services = model["services"]
    assert set(services) == {"influxdb", "grafana", "plant", "gateway"}
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", name
        assert len(test) > 1, name
    assert services["influxdb"]["image"].startswith("influxdb:2.")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    # the plant and the gateway: one image, built from ./Dockerfile
    for name in ("plant", "gateway"):
        assert services[name]["build"]["context"] == str(ROOT), name
    assert services["plant"]["image"] == services["gateway"]["image"]
    assert services["plant"]["command"][:4] == ["python", "-m", "simulators", "plant"]
    assert services["gateway"]["command"][0] == "gateway"


def test_services_start_once_what_they_need_is_healthy(model):
    services = model["services"]
    assert services["grafana"]["depends_on"] == {"influxdb": {"condition": "service_healthy"}}
    assert services["gateway"]["depends_on"] == {
        "influxdb": {"condition": "service_healthy"},
        "plant": {"condition": "service_healthy"},
    }
    assert "depends_on" not in services["influxdb"]
    assert "depends_on" not in services["plant"]


def test_influxdb_is_initialised_from_env_example(model):
    env = model["services"]["influxdb"]["environment"]
    example = {**env_example(), **TEST_SECRETS}
    assert env == {
        "DOCKER_INFLUXDB_INIT_MODE": "setup",
        "DOCKER_INFLUXDB_INIT_USERNAME": example["INFLUXDB_ADMIN_USER"],
        "DOCKER_INFLUXDB_INIT_PASSWORD": example["INFLUXDB_ADMIN_PASSWORD"],
        "DOCKER_INFLUXDB_INIT_ORG": example["INFLUXDB_V2_ORG"],
        "DOCKER_INFLUXDB_INIT_BUCKET": example["INFLUXDB_V2_BUCKET"],
        "DOCKER_INFLUXDB_INIT_RETENTION": example["INFLUXDB_RETENTION"],
        "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN": example["INFLUXDB_V2_TOKEN"],
    }


def test_the_gateway_reads_the_plant_and_writes_to_influxdb(model):
    services = model["services"]
    gateway, influx = services["gateway"]["environment"], services["influxdb"]["environment"]
    assert gateway["INFLUXDB_V2_URL"] == "http://influxdb:8086"
    assert gateway["INFLUXDB_V2_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert gateway["INFLUXDB_V2_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert gateway["INFLUXDB_V2_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]

    # the command's files, as the container sees them: the mounted maps and the image's settings
    command = services["gateway"]["command"]
    args = gateway_parser().parse_args(command[1:])
    assert args.command == "run"
    assert args.paths == ["/etc/plc-gateway/container.yaml", "/etc/plc-gateway/mappings"]
    assert args.health_port is None  # the settings file's port, which the health check asks
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["gateway"]["volumes"]}
    maps = Path(mounts["/etc/plc-gateway/mappings"])
    config = load_tagmaps([ROOT / "deploy/gateway/container.yaml", maps], env=gateway)
    plant_ports = set(host_ports(services["plant"]))  # the ports inside the plant's container
    endpoints = {device.endpoint for device in config.devices}
    assert len(config.devices) == 25
    assert endpoints == {"modbus+tcp://plant:5020", "opc.tcp://plant:4840"}
    assert plant_ports == {5020, 4840}
    assert effective_sinks(config.sinks, gateway).influxdb is not None  # not the file sink
    assert config.health is not None
    assert (config.health.listen, config.health.port) == ("0.0.0.0", 9273)
    assert set(host_ports(services["gateway"])) == {config.health.port}
    assert gateway_healthcheck(services["gateway"]) == ("127.0.0.1", config.health.port)


def test_the_plant_serves_what_the_bundled_maps_read_and_its_check_asks(model):
    plant = model["services"]["plant"]
    args = simulators_parser().parse_args(plant["command"][3:])
    assert args.command == "plant"
    assert args.host == "0.0.0.0"  # reachable from the gateway's container
    assert not args.no_opcua
    assert args.cells == 12  # the bundled maps' cells
    assert set(host_ports(plant)) == {args.modbus_port, args.opcua_port} == {5020, 4840}
    check = plant["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert re.search(r"for p in \((\d+), (\d+)\)", check[3]).groups() == ("5020", "4840")


def test_every_port_is_published_on_localhost_only_by_default(model):
    published = {name: host_ports(s) for name, s in model["services"].items()}
    assert published["influxdb"] == {8086: ("127.0.0.1", 8086)}
    assert published["grafana"] == {3000: ("127.0.0.1", 3000)}
    assert {host for ports in published.values() for host, _ in ports.values()} == {"127.0.0.1"}


def test_stack_bind_publishes_influxdb_and_grafana_on_other_addresses_only():
    done = compose_config(ROOT / ".env.example", {**TEST_SECRETS, "STACK_BIND": "0.0.0.0"})
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert host_ports(services["influxdb"]) == {8086: ("0.0.0.0", 8086)}
    assert host_ports(services["grafana"]) == {3000: ("0.0.0.0", 3000)}
    for name in ("plant", "gateway"):  # the plant's PLC ports and the health port stay local
        assert {h for h, _ in host_ports(services[name]).values()} == {"127.0.0.1"}, name


def test_the_health_port_and_the_plant_are_published_on_localhost_only(model):
    services = model["services"]
    for name in ("gateway", "plant"):
        ports = host_ports(services[name])
        assert ports, name
        for host, _published in ports.values():
            assert host == "127.0.0.1", name
    assert host_ports(services["gateway"]) == {9273: ("127.0.0.1", 9273)}


def test_data_lives_on_named_volumes(model):
    services = model["services"]
    named = {
        name: {v.split(":")[0]: v.split(":")[1] for v in s["volumes"] if not v.startswith("/")}
        for name, s in services.items()
        if "volumes" in s
    }
    assert named == {
        "influxdb": {"influxdb-data": "/var/lib/influxdb2", "influxdb-config": "/etc/influxdb2"},
        "grafana": {"grafana-data": "/var/lib/grafana"},
        "gateway": {"gateway-buffer": "/var/lib/plc-gateway"},  # the image's working directory
    }
    assert set(model["volumes"]) == {n for volumes in named.values() for n in volumes}


def test_every_bind_mount_is_a_folder_of_the_repository_mounted_read_only(model):
    binds = [
        volume.split(":")
        for service in model["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith("/")
    ]
    assert len(binds) == 3  # Grafana's provisioning and dashboards, the gateway's tag maps
    for source, _target, mode in binds:
        assert Path(source).is_dir(), source
        assert Path(source).is_relative_to(ROOT), source
        assert mode == "ro", source


def test_grafana_provisions_the_data_source_and_every_dashboard_file(model):
    grafana = model["services"]["grafana"]
    source = (ROOT / "deploy/grafana/provisioning/datasources/influxdb.yaml").read_text()
    variables = set(re.findall(r"\$\{(\w+)\}", source))
    assert variables == {"INFLUXDB_V2_ORG", "INFLUXDB_V2_BUCKET", "INFLUXDB_V2_TOKEN"}
    for name in variables:  # set for Grafana from .env, equal to what InfluxDB was given
        assert grafana["environment"][name] == model["services"]["gateway"]["environment"][name]
    (datasource,) = yaml.safe_load(source)["datasources"]
    assert datasource["url"] == model["services"]["gateway"]["environment"]["INFLUXDB_V2_URL"]

    mounts = {v.split(":")[1]: Path(v.split(":")[0]) for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == ROOT / "deploy/grafana/provisioning"
    provider = ROOT / "deploy/grafana/provisioning/dashboards/plc-gateway.yaml"
    (dashboards,) = yaml.safe_load(provider.read_text())["providers"]
    folder = mounts[dashboards["options"]["path"]]
    assert folder == ROOT / "deploy/grafana/dashboards"
    assert list(folder.glob("*.json"))  # the provider loads every JSON file of the folder


def test_every_variable_is_in_env_example_with_the_default_compose_uses():
    example = env_example()
    used = used_variables()
    assert set(used) <= set(example)
    assert set(example) - set(used) == {"COMPOSE_PROJECT_NAME"}  # compose's own setting
    for name, (kind, value) in used.items():
        if name in SECRETS:  # no default and empty: compose refuses to start until it is set
            assert kind == ":?", name
            assert name in value, name
            assert example[name] == "", name  # never a placeholder one could start with
        else:
            assert (kind, value) == (":-", example[name]), name


def test_env_example_as_it_is_is_refused_naming_a_missing_secret():
    # `cp .env.example .env && docker compose up` must not start with a well-known password
    done = compose_config(ROOT / ".env.example")
    assert done.returncode != 0
    assert re.search(r"set (\w+) in \.env", done.stderr).group(1) in SECRETS, done.stderr


def test_the_readme_first_start_sets_every_secret_and_compose_accepts_it(tmp_path):
    # the README's commands before `docker compose up`, run on a copy of .env.example
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Run the full stack\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    setup = block.split("\ndocker compose up", 1)[0]
    assert setup.startswith("cp .env.example .env")
    shutil.copy(ROOT / ".env.example", tmp_path)
    subprocess.run(["bash", "-euc", setup], cwd=tmp_path, check=True, timeout=30)
    made, example = env_example(tmp_path / ".env"), env_example()
    secrets = [made.pop(name) for name in SECRETS]
    assert made == {n: v for n, v in example.items() if n not in SECRETS}  # the rest as it was
    assert len(set(secrets)) == len(SECRETS)  # one of its own each
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in secrets), secrets
    done = compose_config(tmp_path / ".env")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("secret", SECRETS)
def test_each_secret_left_empty_stops_compose_naming_it(secret):
    others = {name: value for name, value in TEST_SECRETS.items() if name != secret}
    done = compose_config(ROOT / ".env.example", others)
    assert done.returncode != 0
    assert f"set {secret} in .env" in done.stderr


def test_local_settings_and_secrets_stay_out_of_git_and_the_image():
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()
