"""The OPC UA collector (`OpcuaConnection` from `compile_opcua` plans) against real asyncua
servers: every data type in both modes, bad nodes, the server's operation limits, many items,
timestamps and the device's state and counters."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua

from gateway.collectors import registry
from gateway.collectors.base import State
from gateway.collectors.opcua.collector import OpcuaConnection
from gateway.model import Quality, Sample, Unsigned
from gateway.sinks.lineprotocol import encode_lines
from tests.integration.opcua_collecting import Recorder, every_field, plan_of, running
from tests.integration.opcua_typed_server import (
    ARRAY_LENGTH,
    SCALARS,
    URI,
    TypedServer,
    start_typed_server,
)
from tests.uaserver import URI as TEST_URI
from tests.uaserver import UaTestServer

pytestmark = pytest.mark.integration
shared_loop = pytest.mark.asyncio(loop_scope="module")
GOOD = Quality.GOOD


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def typed() -> AsyncIterator[TypedServer]:
    server = await start_typed_server(max_nodes_per_read=5, enforce_read_limit=5)
    yield server
    await server.stop()


def expected(value: Any) -> Any:
    """What a plain asyncua read's value is written as (independent of values.py)."""
    if isinstance(value, datetime):
        return round((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, ua.LocalizedText):
        return value.Text
    return value


def typed_tags(mode: str) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = []
    for name in [*SCALARS, "enum"]:
        tags.append({"name": name, "node": f"nsu={URI};s=Typed.{name}", "mode": mode})
    for name in SCALARS:
        node = f"nsu={URI};s=Typed.{name}_array"
        tags.append({"name": f"{name}_array", "node": node, "mode": mode, "array_length": 3})
    return tags


async def plain_values(typed: TypedServer) -> dict[str, Any]:
    """field -> value as a plain asyncua client reads it."""
    names = [*SCALARS, "enum", *(f"{name}_array" for name in SCALARS)]
    async with Client(typed.endpoint) as client:
        nodes = [client.get_node(typed.node(n)) for n in names]
        values = [
            v for i in range(0, len(nodes), 5) for v in await client.read_values(nodes[i : i + 5])
        ]
    found: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        if isinstance(value, list):
            found |= {f"{name}_{i}": expected(v) for i, v in enumerate(value[:ARRAY_LENGTH])}
        else:
            found[name] = expected(value)
    return found


@shared_loop
@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_every_data_type_equals_a_plain_read(typed: TypedServer, mode: str) -> None:
    plan = plan_of(typed.endpoint, typed_tags(mode))
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    async with running(connection):
        await recorder.until(every_field(plan, lambda s: s.quality is GOOD))
    latest = {field: s.value for field, s in recorder.latest().items()}
    assert latest == await plain_values(typed)
    assert type(latest["uint64"]) is Unsigned
    assert type(latest["uint64_array_2"]) is Unsigned
    assert type(latest["int64"]) is int
    assert type(latest["boolean"]) is bool
    lines = "\n".join(encode_lines(recorder.samples))
    assert f"uint64={2**64 - 1}u" in lines
    assert f"int64={-(2**63)}i" in lines


@shared_loop
async def test_once_reads_every_type_within_the_read_limit(typed: TypedServer) -> None:
    plan = plan_of(typed.endpoint, typed_tags("poll"))
    connection = OpcuaConnection(plan, Recorder())
    typed.reads.clear()
    samples = await connection.scan_all()
    assert {s.point.field: s.value for s in samples} == await plain_values(typed)
    assert typed.reads
    assert max(typed.reads) <= 5
    assert connection.stats.connects == 1
    assert connection.stats.connect_failures == 0


def problem_tags(mode: str) -> list[dict[str, Any]]:
    return [
        {"name": "ok", "node": f"nsu={URI};s=Typed.double", "mode": mode},
        {"name": "bad", "node": f"nsu={URI};s=Typed.bad", "mode": mode},
        {"name": "uncertain", "node": f"nsu={URI};s=Typed.uncertain", "mode": mode},
        {"name": "missing", "node": f"nsu={URI};s=Typed.nothing_here", "mode": mode},
        {"name": "structure", "node": f"nsu={URI};s=Typed.structure", "mode": mode},
        {"name": "open", "node": f"nsu={URI};s=Typed.double_array", "mode": mode},
        {"name": "unknown_ns", "node": "nsu=urn:nobody;s=x", "mode": mode},
    ]


def check_problems(latest: dict[str, Sample]) -> None:
    assert latest["ok"].quality is GOOD
    assert latest["ok"].value == SCALARS["double"][1]
    assert (latest["bad"].quality, latest["bad"].value) == (Quality.BAD, None)
    assert latest["bad"].reason == "BadSensorFailure"
    assert (latest["uncertain"].quality, latest["uncertain"].value) == (Quality.UNCERTAIN, 1.5)
    for name in ("missing", "structure", "open", "unknown_ns"):
        assert (latest[name].quality, latest[name].value) == (Quality.BAD, None), name
    assert "BadNodeIdUnknown" in latest["missing"].reason
    assert "array_length: 3" in latest["open"].reason
    assert "urn:nobody" in latest["unknown_ns"].reason
    assert latest["structure"].reason


@shared_loop
@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_bad_nodes_are_bad_samples_while_the_rest_flow(
    typed: TypedServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    plan = plan_of(typed.endpoint, problem_tags(mode))
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    caplog.set_level(logging.WARNING)
    async with running(connection):
        # two values of `ok` after the problems were reported: the rest keeps flowing
        await recorder.until(
            lambda ss: sum(s.point.field == "ok" for s in ss) >= 2 or mode == "subscribe"
        )
        await recorder.until(every_field(plan, lambda s: True))
    check_problems(recorder.latest())
    await connection.scan_all()  # a second session: the same reasons are not logged again
    for name in ("missing", "structure", "open", "unknown_ns"):
        logged = [r for r in caplog.records if f"tag {name}:" in r.getMessage()]
        assert len(logged) == 1, name
    for line in encode_lines(s for s in recorder.samples if s.point.field == "bad"):
        assert "bad=" not in line  # never a number for a Bad value


@shared_loop
async def test_once_marks_bad_nodes_and_reads_the_rest(typed: TypedServer) -> None:
    connection = OpcuaConnection(plan_of(typed.endpoint, problem_tags("poll")), Recorder())
    check_problems({s.point.field: s for s in await connection.scan_all()})


@pytest.mark.asyncio
async def test_monitored_items_are_created_within_the_servers_limit() -> None:
    server = UaTestServer(350)
    await server.start(max_per_call=100)
    try:
        tags = [{"name": f"v{i}", "node": f"nsu={TEST_URI};s=v{i}"} for i in range(350)]
        plan = plan_of(server.url, tags)
        recorder = Recorder()
        async with running(OpcuaConnection(plan, recorder)):
            await recorder.until(every_field(plan, lambda s: s.quality is GOOD))
            await server.write_all(10.0)
            await recorder.until(
                every_field(plan, lambda s: s.value == 10.0 + int(s.point.field[1:]))
            )
        assert server.create_calls
        assert max(server.create_calls) <= 100
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_ten_thousand_monitored_items() -> None:
    count = 10_000
    server = UaTestServer(count)
    await server.start()
    try:
        tags = [{"name": f"v{i}", "node": f"nsu={TEST_URI};s=v{i}"} for i in range(count)]
        plan = plan_of(server.url, tags, scan_rate=0.5, timeout=10.0)  # the server shares the loop
        recorder = Recorder()
        connection = OpcuaConnection(plan, recorder)
        # The health probe (2 s by default) is not what is tested: while this loop also serves
        # 10,000 items, a loaded machine can hold its answer longer. Give it the plan's timeout.
        supervisor = connection.supervisor
        supervisor.settings = replace(supervisor.settings, watchdog_interval=plan.timeout_s)
        async with running(connection):
            await recorder.until(every_field(plan, lambda s: s.quality is GOOD), timeout=120)
            await server.write_all(5.0)
            await recorder.until(
                every_field(plan, lambda s: s.value == 5.0 + int(s.point.field[1:])), timeout=120
            )
        # A first attempt that fails on a loaded machine is retried (its tags are marked BAD
        # "not connected" until then); once a tag is GOOD, it never goes BAD again.
        assert not bad_after_first_good(recorder.samples)
        assert all(
            s.reason.startswith("not connected: ")
            for s in recorder.samples
            if s.quality is not GOOD
        )
    finally:
        await server.stop()


def bad_after_first_good(samples: list[Sample]) -> list[Sample]:
    """The non-GOOD samples of each field that come after its first GOOD one."""
    seen_good: set[str] = set()
    late = []
    for s in samples:
        if s.quality is GOOD:
            seen_good.add(s.point.field)
        elif s.point.field in seen_good:
            late.append(s)
    return late


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["poll", "subscribe", "once"])
async def test_timestamps_source_server_and_gateway(mode: str) -> None:
    server = UaTestServer(1)
    await server.start()
    source = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    served = datetime(2026, 1, 2, 3, 4, 6, 700000, tzinfo=UTC)
    try:
        assert server.server is not None
        data = ua.DataValue(
            ua.Variant(1.0, ua.VariantType.Double),
            SourceTimestamp=source,
            ServerTimestamp=served,
        )
        await server.server.write_attribute_value(server.node(0), data)
        node = f"nsu={TEST_URI};s=v0"
        tag_mode = "poll" if mode == "once" else mode
        tags = [
            {"name": name, "node": node, "timestamp": name, "mode": tag_mode}
            for name in ("source", "server", "gateway")
        ]
        plan = plan_of(server.url, tags)
        before = datetime.now(UTC).timestamp() * 1e9
        recorder = Recorder()
        connection = OpcuaConnection(plan, recorder)
        if mode == "once":
            samples = await connection.scan_all()
        else:
            async with running(connection):
                await recorder.until(every_field(plan, lambda s: s.quality is GOOD))
            samples = recorder.samples
        after = datetime.now(UTC).timestamp() * 1e9
        latest = {s.point.field: s for s in samples}
        assert latest["source"].time_ns == int(source.timestamp()) * 10**9 + 600_000_000
        assert latest["server"].time_ns == int(served.timestamp()) * 10**9 + 700_000_000
        assert before <= latest["gateway"].time_ns <= after
    finally:
        await server.stop()


def test_state_is_down_before_a_session() -> None:
    connection = OpcuaConnection(
        plan_of("opc.tcp://127.0.0.1:1", [{"name": "a", "node": "i=1"}]), Recorder()
    )
    assert connection.devices["dev"].state is State.DOWN
    assert not connection.stats.connected


@shared_loop
async def test_once_raw_names_the_variant_type_and_status_code(typed: TypedServer) -> None:
    """`gateway once --raw`: each value's node, variant type and status code."""
    tags = [
        {"name": "ok", "node": f"nsu={URI};s=Typed.double", "mode": "poll"},
        {"name": "uncertain", "node": f"nsu={URI};s=Typed.uncertain", "mode": "poll"},
        {"name": "bad", "node": f"nsu={URI};s=Typed.bad", "mode": "poll"},
        {"name": "arr", "node": f"nsu={URI};s=Typed.int32_array", "array_length": 2},
    ]
    plan = plan_of(typed.endpoint, tags)
    connection = OpcuaConnection(plan, Recorder())
    source = registry.sources(plan, connection)
    samples = await connection.scan_all()
    said = {s.point.field: source(s) for s in samples}
    node = "<- ns=2;s=Typed."
    assert said == {
        "ok": f"{node}double Double Good",
        "uncertain": f"{node}uncertain Double UncertainLastUsableValue",
        "bad": f"{node}bad Null BadSensorFailure",
        "arr_0": f"{node}int32_array Int32[3] Good",  # the node's array, of which 2 are read
        "arr_1": f"{node}int32_array Int32[3] Good",
    }
