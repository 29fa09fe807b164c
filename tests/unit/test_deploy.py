"""The Grafana dashboard agrees with what the gateway writes (docker-compose.yml:
test_compose.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.config import load_tagmaps
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.telemetry.metrics import collect
from gateway.testing import memory_forwarders

ROOT = Path(__file__).resolve().parents[2]


def gateway_stats_fields() -> set[str]:
    device = ModbusDevice.model_validate(
        {
            "name": "d",
            "endpoint": "modbus+tcp://127.0.0.1:1",
            "tags": [{"name": "x", "space": "coil", "address": 0}],
        }
    )
    gateway = Gateway(compile_connections((device,)), memory_forwarders(MemorySink()))
    return {f.name.removeprefix("gateway_") for f in collect(gateway, 0)}


async def test_every_dashboard_query_names_a_field_the_gateway_writes():
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/potline.json").read_text())
    written: dict[str, set[str]] = {}
    for device in load_tagmaps([ROOT / "mappings"], env={}).devices:  # the bundled maps
        written.setdefault(device.measurement, set()).update(t.field or t.name for t in device.tags)
    written["gateway_stats"] = gateway_stats_fields()
    queries = [t["query"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 10
    for query in queries:
        (measurement,) = re.findall(r'r\._measurement == "([^"]+)"', query)
        (field,) = re.findall(r'r\._field == "([^"]+)"', query)
        assert field in written[measurement], (measurement, field)
