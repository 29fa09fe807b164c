"""`gateway once --raw` for OPC UA: each value's node, variant type and status code, from a
real asyncua server."""

from __future__ import annotations

import pytest

from gateway.collectors import registry
from gateway.collectors.opcua.collector import OpcuaConnection
from tests.integration.opcua_collecting import Recorder, plan_of
from tests.integration.opcua_typed_server import URI, start_typed_server

pytestmark = pytest.mark.integration


async def test_once_raw_names_the_variant_type_and_status_code() -> None:
    server = await start_typed_server()
    try:
        tags = [
            {"name": "ok", "node": f"nsu={URI};s=Typed.double", "mode": "poll"},
            {"name": "uncertain", "node": f"nsu={URI};s=Typed.uncertain", "mode": "poll"},
            {"name": "bad", "node": f"nsu={URI};s=Typed.bad", "mode": "poll"},
            {"name": "arr", "node": f"nsu={URI};s=Typed.int32_array", "array_length": 2},
        ]
        plan = plan_of(server.endpoint, tags)
        connection = OpcuaConnection(plan, Recorder())
        source = registry.sources(plan, connection)
        samples = await connection.scan_all()
    finally:
        await server.stop()
    said = {s.point.field: source(s) for s in samples}
    node = "<- ns=2;s=Typed."
    assert said == {
        "ok": f"{node}double Double Good",
        "uncertain": f"{node}uncertain Double UncertainLastUsableValue",
        "bad": f"{node}bad Null BadSensorFailure",
        "arr_0": f"{node}int32_array Int32[3] Good",  # the node's array, of which 2 are read
        "arr_1": f"{node}int32_array Int32[3] Good",
    }
