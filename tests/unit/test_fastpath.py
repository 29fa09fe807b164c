"""The Modbus fast path against the Sample path: the same values and the same lines.

`decode_values` must give what `codec.decode` gives, for every type and byte order, with
gaps and overlapping tags; `encode_values` + `stamp` must write the lines `encode_lines`
writes of the same GOOD samples; anything the pipeline would change goes the Sample path.
"""

from __future__ import annotations

import random
import struct

import pytest

from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.extract import extract
from gateway.collectors.modbus.fastpath import (
    compile_response,
    decode_values,
    encode_values,
    fast,
    readings,
)
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.types import REGISTER_WIDTH, ByteOrder, DataType
from gateway.model import Quality
from gateway.pipeline import build_pipeline
from gateway.sinks.lineprotocol import Precision, encode_lines, stamp

NUMBERS = [t for t in REGISTER_WIDTH if t is not DataType.BIT]
T0 = 1_796_000_000_123_456_789


def request_of(tags: list[dict], **device: object) -> ReadRequest:
    dev = ModbusDevice.model_validate(
        {"name": "plc", "endpoint": "modbus+tcp://h:1", "max_gap": 20, "tags": tags, **device}
    )
    (plan,) = compile_connections([dev])
    (scan,) = plan.scans
    (req,) = scan.requests
    return req


def random_tags(rng: random.Random, count: int) -> list[dict]:
    """Tags of random types and byte orders at random addresses: gaps, overlaps, duplicates."""
    tags, address = [], 0
    for i in range(count):
        dtype = rng.choice([*NUMBERS, DataType.BIT])
        tags.append(
            {
                "name": f"t{i}",
                "space": "holding_register",
                "address": address,
                "type": dtype.value,
                "byte_order": rng.choice(list(ByteOrder)).value,
                **({"bit": rng.randint(0, 15)} if dtype is DataType.BIT else {}),
                **({"measurement": rng.choice(["a", "b"])} if rng.random() < 0.2 else {}),
            }
        )
        address = max(0, address + rng.choice([-2, -1, 0, 1, 2, 3, 5]) + rng.randint(0, 1))
    return tags


def random_registers(rng: random.Random, count: int) -> list[int]:
    """Registers that make finite floats mostly (a random exponent is often all ones)."""
    return [rng.getrandbits(16) & rng.choice([0xFFFF, 0xBFFF, 0x3FFF]) for _ in range(count)]


@pytest.mark.parametrize("dtype", NUMBERS, ids=str)
@pytest.mark.parametrize("order", list(ByteOrder), ids=str)
def test_each_type_and_order_decodes_as_the_codec(dtype: DataType, order: ByteOrder) -> None:
    width = REGISTER_WIDTH[dtype]
    tags = [
        {"name": f"v{i}", "space": "input_register", "address": a, "type": dtype.value}
        for i, a in enumerate([0, width + 3, 2 * width + 5])
    ]
    req = request_of(tags, byte_order=order.value)
    plan = compile_response(req)
    assert plan is not None
    assert plan.slow is None
    rng = random.Random(f"{dtype}{order}")
    for _ in range(200):
        registers = random_registers(rng, req.count)
        decoded = decode_values(plan, registers)
        slow = extract(req, registers, T0)
        if decoded is None:  # only for a non-finite float
            assert any(s.value != s.value or abs(s.value) == float("inf") for s in slow)  # type: ignore[operator]
            continue
        raw = struct.pack(f">{req.count}H", *registers)  # as the response keeps them
        assert decode_values(plan, registers, raw) == decoded
        fast_samples = readings(plan, decoded, [], T0)
        assert [(s.point, s.value, s.quality) for s in fast_samples] == [
            (s.point, s.value, s.quality) for s in slow
        ]


@pytest.mark.parametrize("seed", range(40))
def test_random_requests_decode_and_encode_as_the_sample_path(seed: int) -> None:
    rng = random.Random(seed)
    req = request_of(random_tags(rng, rng.randint(1, 40)))
    plan = compile_response(req)
    assert plan is not None
    pipeline = build_pipeline(s.key for s in req.spans)
    for _ in range(20):
        registers = random_registers(rng, req.count)
        decoded = decode_values(plan, registers)
        slow = extract(req, registers, T0)
        if decoded is None:
            continue
        assert [s.value for s in readings(plan, decoded, [], T0)] == [s.value for s in slow]
        for precision in Precision:
            lines = stamp([encode_values(plan, decoded, T0)], precision)
            assert lines == encode_lines(pipeline.apply(slow), precision)


def test_the_example_float32_is_written_with_float32_digits() -> None:
    req = request_of(
        [{"name": "line_voltage", "space": "input_register", "address": 0, "type": "float32"}]
    )
    plan = compile_response(req)
    assert plan is not None
    registers = list(struct.unpack(">HH", struct.pack(">f", 105.24388885498047)))
    decoded = decode_values(plan, registers)
    assert decoded == (105.24388885498047,)  # the reading itself stays exact
    (line,) = stamp([encode_values(plan, decoded, T0)])
    assert line == "modbus,device=plc line_voltage=105.24389,line_voltage_quality=0i 1796000000123"


def test_a_nan_sends_the_whole_response_the_sample_path() -> None:
    tags = [
        {"name": "a", "space": "holding_register", "address": 0, "type": "float32"},
        {"name": "b", "space": "holding_register", "address": 2, "type": "float64"},
    ]
    plan = compile_response(request_of(tags))
    assert plan is not None
    nan32 = [0x7FC0, 0]
    assert decode_values(plan, [*nan32, 16368, 0, 0, 0]) is None
    assert decode_values(plan, [16256, 0, 32752, 0, 0, 0]) is None  # +inf float64
    assert decode_values(plan, [16256, 0, 16368, 0, 0, 0]) == (1.0, 1.0)


def test_registers_that_do_not_pack_take_the_sample_path() -> None:
    plan = compile_response(request_of([{"name": "a", "space": "holding_register", "address": 0}]))
    assert plan is not None
    assert decode_values(plan, [70000]) is None


def test_tags_with_rules_and_strings_keep_the_sample_path_in_order() -> None:
    tags = [
        {"name": "plain", "space": "holding_register", "address": 0, "type": "int16"},
        {"name": "scaled", "space": "holding_register", "address": 1, "scale": {"factor": 0.1}},
        {"name": "ranged", "space": "holding_register", "address": 2, "range": [0, 10]},
        {"name": "banded", "space": "holding_register", "address": 3, "deadband": {"absolute": 1}},
        {"name": "beat", "space": "holding_register", "address": 4, "heartbeat": "10s"},
        {"name": "flag", "space": "holding_register", "address": 5, "type": "bit", "bit": 1},
        {"name": "text", "space": "holding_register", "address": 6, "type": "string", "length": 1},
        {"name": "last", "space": "holding_register", "address": 7, "type": "float32"},
    ]
    req = request_of(tags)
    assert [fast(s.key) for s in req.spans] == [True] + [False] * 4 + [True, False, True]
    plan = compile_response(req)
    assert plan is not None
    assert plan.slow is not None
    registers = [5, 943, 11, 3, 4, 0b10, 0x4E64, 0x4148, 0]
    decoded = decode_values(plan, registers)
    assert decoded == (12.5, 5, True)  # float32 first (their texts are made at once), bits last
    slow = extract(plan.slow, registers, T0)
    assert [s.point.tag for s in slow] == ["scaled", "ranged", "banded", "beat", "text"]
    got = readings(plan, decoded, slow, T0)
    assert [s.point.tag for s in got] == [t["name"] for t in tags]
    assert got[1] is slow[0]  # the very samples the pipeline changes in place
    assert [s.value for s in got] == [5, 943, 11, 3, 4, True, "Nd", 12.5]
    (line,) = stamp([encode_values(plan, decoded, T0)])
    assert (
        line == "modbus,device=plc plain=5i,plain_quality=0i,flag=true,flag_quality=0i,"
        "last=12.5,last_quality=0i 1796000000123"
    )


def test_a_request_of_only_slow_tags_has_no_plan() -> None:
    req = request_of(
        [{"name": "s", "space": "holding_register", "address": 0, "scale": {"factor": 2}}]
    )
    assert compile_response(req) is None


def test_coils_are_encoded_as_booleans() -> None:
    tags = [
        {"name": "run", "space": "coil", "address": 0},
        {"name": "trip", "space": "coil", "address": 3},
    ]
    req = request_of(tags)
    plan = compile_response(req)
    assert plan is not None
    bits = [True, False, False, False]
    decoded = decode_values(plan, bits)
    assert decoded == (True, False)
    lines = stamp([encode_values(plan, decoded, T0)], Precision.NS)
    assert lines == encode_lines(extract(req, bits, T0), Precision.NS)
    assert lines == [f"modbus,device=plc run=true,run_quality=0i,trip=false,trip_quality=0i {T0}"]


def test_uint64_is_unsigned_and_braces_in_names_are_literal() -> None:
    tags = [
        {
            "name": "e",
            "field": "energy{kWh}",
            "space": "holding_register",
            "address": 0,
            "type": "uint64",
        },
    ]
    plan = compile_response(request_of(tags, measurement="m{x}"))
    assert plan is not None
    decoded = decode_values(plan, [0xFFFF] * 4)
    (line,) = stamp([encode_values(plan, decoded, T0)], Precision.S)
    assert (
        line
        == "m{x},device=plc energy{kWh}=18446744073709551615u,energy{kWh}_quality=0i 1796000000"
    )
    assert [s.quality for s in readings(plan, decoded, [], T0)] == [Quality.GOOD]


def test_percent_signs_in_names_are_literal_and_values_keep_the_read_order() -> None:
    hr = "holding_register"
    tags = [
        {"name": "n", "field": "load%s", "space": hr, "address": 0, "type": "int16"},
        {"name": "x", "field": "a%%b", "space": hr, "address": 1, "type": "float64"},
        {"name": "f", "field": "f%d", "space": hr, "address": 5, "type": "float32"},
    ]
    req = request_of(tags, measurement="m%")
    plan = compile_response(req)
    assert plan is not None
    registers = [7, *struct.unpack(">4H", struct.pack(">d", 0.1)), 0x42F7, 0]
    decoded = decode_values(plan, registers)
    (line,) = stamp([encode_values(plan, decoded, T0)], Precision.S)
    assert line == (
        "m%,device=plc load%s=7i,load%s_quality=0i,a%%b=0.1,a%%b_quality=0i,"
        "f%d=123.5,f%d_quality=0i 1796000000"
    )
    assert [line] == encode_lines(extract(req, registers, T0), Precision.S)


def test_devices_built_alike_share_their_compiled_formats() -> None:
    """100,000 tags of alike devices would otherwise hold one struct per request and lane."""
    tags = [
        {"name": "a", "space": "holding_register", "address": 0, "type": "float32"},
        {"name": "b", "space": "holding_register", "address": 4, "type": "int16"},
    ]
    one = compile_response(request_of(tags, name="cell01"))
    two = compile_response(request_of(tags, name="cell02"))
    assert one is not None
    assert two is not None
    assert one.template != two.template  # their own series
    assert one.words is two.words
    assert one.swapped_words is two.swapped_words
    assert [u.format for u in one.unpackers] == [u.format for u in two.unpackers]
    assert all(a.format is b.format for a, b in zip(one.unpackers, two.unpackers, strict=True))
