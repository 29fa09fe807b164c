"""An OPC UA device in a whole gateway (tag map -> build_gateway -> run): its lines reach the
sink, and readiness and the device_up metric follow the session (up, lost, up again)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config.loader import load_tagmaps
from gateway.runtime.assemble import build_gateway, readiness
from gateway.sinks.memory import MemorySink
from gateway.telemetry.metrics import collect, render_prometheus
from tests.integration.opcua_collecting import eventually
from tests.uaserver import URI, UaTestServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def tag_map(endpoint: str, buffer: Path) -> str:
    return f"""\
buffer: {{directory: {buffer}}}
devices:
  - name: rect
    protocol: opcua
    endpoint: {endpoint}
    measurement: rectifier
    scan_rate: 0.2
    tags:
      - {{name: current, node: "nsu={URI};s=v0"}}
      - {{name: polled, node: "nsu={URI};s=v1", mode: poll}}
"""


async def test_readiness_and_device_up_follow_the_session(tmp_path: Path) -> None:
    server = UaTestServer(2)
    await server.start()
    path = tmp_path / "map.yaml"
    path.write_text(tag_map(server.url, tmp_path / "buffer"))
    config = load_tagmaps([path], env={})
    sink = MemorySink()
    gateway, _ = build_gateway(config, sinks=[sink], health_port=0)

    def metrics() -> str:
        return render_prometheus(collect(gateway, 0))

    task = asyncio.create_task(gateway.run())
    try:
        await server.write_all(7.0)
        await eventually(lambda: any("current=7.0" in line for line in sink.lines))
        await eventually(lambda: any("polled=8.0" in line for line in sink.lines))
        assert readiness(gateway) == (True, "ready: 1 devices up")
        assert 'device_up{device="rect"} 1' in metrics()
        await server.stop()
        await eventually(lambda: not readiness(gateway)[0])
        assert readiness(gateway)[1] == "no device up"
        assert 'device_up{device="rect"} 0' in metrics()
        await eventually(lambda: any('current_reason="connection lost' in x for x in sink.lines))
        await server.start()
        await eventually(lambda: readiness(gateway)[0], timeout=60)
        assert 'device_up{device="rect"} 1' in metrics()
    finally:
        gateway.stop()
        await asyncio.wait_for(task, 30)
        await server.stop()
