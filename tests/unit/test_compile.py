"""Compile step: scan groups, connections, scaling and deadband resolution."""

from __future__ import annotations

import pytest

from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import ByteOrder, Space


def dev(name, endpoint="modbus+tcp://10.0.0.5:502", unit=1, **extra):
    fields = {"name": name, "endpoint": endpoint, "unit_id": unit, **extra}
    return ModbusDevice.model_validate(fields)


def test_tags_are_grouped_by_scan_rate_and_group_name():
    d = dev(
        "cell01",
        scan_rate="1s",
        scan_groups={"fast": "200ms", "slow": "10s"},
        tags=[
            {"name": "v", "space": "input_register", "address": 0, "scan": "fast"},
            {"name": "i", "space": "input_register", "address": 1, "scan": 0.2},
            {"name": "t", "space": "input_register", "address": 2},
            {"name": "hopper", "space": "input_register", "address": 3, "scan": "slow"},
        ],
    )
    (conn,) = compile_connections((d,))
    summary = [(s.interval_s, [t.point.tag for t in s.tags]) for s in conn.scans]
    assert summary == [(0.2, ["v", "i"]), (1.0, ["t"]), (10.0, ["hopper"])]
    # the 200 ms group is one read of registers 0-1
    assert [(r.start, r.count) for r in conn.scans[0].requests] == [(0, 2)]


def test_devices_sharing_an_endpoint_share_one_connection():
    tag = [{"name": "x", "space": "holding_register", "address": 0}]
    a = dev("a", unit=1, timeout=0.5, retries=0, tags=tag)
    b = dev("b", unit=2, timeout=2, retries=3, tags=tag)
    c = dev("c", endpoint="modbus+tcp://10.0.0.6", tags=tag)
    conns = compile_connections((a, b, c))
    assert [(str(k.endpoint), k.devices) for k in conns] == [
        ("modbus+tcp://10.0.0.5:502", ("a", "b")),
        ("modbus+tcp://10.0.0.6:502", ("c",)),
    ]
    assert (conns[0].timeout_s, conns[0].retries) == (2.0, 3)
    units = sorted(s.unit for s in conns[0].scans)
    assert units == [1, 2]


def test_disabled_devices_and_devices_without_tags_are_not_polled():
    tag = [{"name": "x", "space": "coil", "address": 0}]
    assert compile_connections((dev("a", enabled=False, tags=tag), dev("b"))) == ()


def test_tag_resolution_uses_device_defaults():
    d = dev(
        "rect",
        byte_order="CDAB",
        measurement="rectifier",
        metadata={"site": "baotou"},
        deadband={"percent": 2},
        heartbeat="1m",
        tags=[
            {
                "name": "current",
                "space": "input_register",
                "address": 0,
                "type": "float32",
                "range": [0, 500],
                "unit": "kA",
            },
            {
                "name": "volts",
                "space": "input_register",
                "address": 2,
                "type": "float32",
                "byte_order": "ABCD",
                "measurement": "dc",
                "field": "voltage",
                "tags": {"bus": "A"},
                "deadband": {"absolute": 0.5},
            },
            {"name": "mode", "space": "holding_register", "address": 0},
        ],
    )
    tags = {t.point.tag: t for s in compile_connections((d,))[0].scans for t in s.tags}
    current, volts, mode = tags["current"], tags["volts"], tags["mode"]
    assert current.order is ByteOrder.CDAB
    assert current.deadband == pytest.approx(10.0)  # 2 % of 500
    assert current.heartbeat_s == 60.0
    assert current.point.series == "rectifier,device=rect,site=baotou"
    assert current.point.unit == "kA"
    assert volts.order is ByteOrder.ABCD
    assert volts.deadband == 0.5
    assert volts.point.series == "dc,bus=A,device=rect,site=baotou"
    assert volts.point.field_key == "voltage"
    assert mode.deadband is None  # percent deadband without a span: every change written
    assert mode.space is Space.HOLDING_REGISTER
    assert mode.count == 1


def test_only_uint64_tags_land_on_unsigned_points():
    types = ["uint64", "int64", "uint32", "uint16", "float64"]
    tags = [
        {"name": t, "space": "holding_register", "address": 4 * i, "type": t}
        for i, t in enumerate(types)
    ]
    (conn,) = compile_connections((dev("meter", tags=tags),))
    unsigned = {t.point.tag: t.point.unsigned for s in conn.scans for t in s.tags}
    assert unsigned == {
        "uint64": True,
        "int64": False,
        "uint32": False,
        "uint16": False,
        "float64": False,
    }


def test_equal_rates_written_differently_are_one_scan():
    """700ms, 0.7s, 0.7, "700 ms" and a group or device rate of 0.7 s are one rate, not four."""
    d = dev(
        "cell01",
        scan_rate="0.7s",
        scan_groups={"fast": "700ms", "odd": 0.7},
        tags=[
            {"name": "a", "space": "input_register", "address": 0, "scan": "700ms"},
            {"name": "b", "space": "input_register", "address": 1, "scan": "0.7s"},
            {"name": "c", "space": "input_register", "address": 2, "scan": 0.7},
            {"name": "d", "space": "input_register", "address": 3, "scan": "700 ms"},
            {"name": "e", "space": "input_register", "address": 4, "scan": "fast"},
            {"name": "f", "space": "input_register", "address": 5, "scan": "odd"},
            {"name": "g", "space": "input_register", "address": 6},
            {"name": "h", "space": "input_register", "address": 7, "scan": "0.0001h"},
            {"name": "i", "space": "input_register", "address": 8, "scan": ".7"},
        ],
    )
    (conn,) = compile_connections((d,))
    assert [(s.interval_s, len(s.tags)) for s in conn.scans] == [(0.36, 1), (0.7, 8)]
    assert [(r.start, r.count) for r in conn.scans[1].requests] == [(0, 7), (8, 1)]


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("700ms", 700_000_000),
        ("0.7s", 700_000_000),
        (0.7, 700_000_000),
        ("700 ms", 700_000_000),
        (" .7 ", 700_000_000),
        (2, 2_000_000_000),
        ("1.5m", 90_000_000_000),
        ("7d", 604_800_000_000_000),
        ("0.1ms", 100_000),
        ("3ms", 3_000_000),
    ],
)
def test_durations_parse_exactly_to_nanoseconds(text, ns):
    from gateway.config.durations import duration_ns, parse_duration, parse_duration_ns

    assert parse_duration_ns(text) == ns
    seconds = parse_duration(text)
    assert seconds == ns / 1e9
    assert duration_ns(seconds) == ns  # the float seconds lead back to the same count
