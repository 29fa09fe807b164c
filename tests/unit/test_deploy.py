"""docker-compose.yml agrees with what the gateway writes (the dashboards: test_dashboards.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_brings_up_influxdb_and_grafana_with_the_gateway_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    influx, grafana = compose["services"]["influxdb"], compose["services"]["grafana"]
    assert influx["image"].startswith("influxdb:2")
    assert "${INFLUXDB_V2_TOKEN:-plant-dev-token}" in influx["environment"].values()
    mounts = [v.split(":")[0] for v in grafana["volumes"]]
    for mount in mounts:
        if mount.startswith("./"):
            assert (ROOT / mount).is_dir(), mount
