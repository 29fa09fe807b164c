"""Line-protocol encoding: hand-written expected lines, and the parser on them."""

from __future__ import annotations

import enum

import pytest

from gateway.model import Point, Quality, Sample, bad
from gateway.sinks.lineprotocol import (
    UNENCODABLE,
    Precision,
    encode_lines,
    format_field,
    parse_line,
)

T = 1_700_000_000_123_456_789  # ns; ms = 1700000000123
T_MS = 1_700_000_000_123


def point(field: str = "temp", measurement: str = "boiler", **tags: str) -> Point:
    return Point.build("plc1", field, measurement, field, {"device": "plc1", **tags})


def good(p: Point, value: object, time_ns: int = T) -> Sample:
    return Sample(p, value, Quality.GOOD, time_ns)  # type: ignore[arg-type]


class Mode(enum.IntEnum):
    AUTO = 3


# -- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (21.5, "temp=21.5"),
        (-0.0, "temp=-0.0"),
        (1e16, "temp=1e+16"),
        (0.1 + 0.2, "temp=0.30000000000000004"),
        (42, "temp=42i"),
        (-7, "temp=-7i"),
        (2**63 - 1, "temp=9223372036854775807i"),
        (True, "temp=true"),
        (False, "temp=false"),
        ("run", 'temp="run"'),
        ("", 'temp=""'),
        ('say "hi" \\o/', 'temp="say \\"hi\\" \\\\o/"'),
        ("a,b c=d", 'temp="a,b c=d"'),
        ("two\nlines", 'temp="two\\nlines"'),
        (Mode.AUTO, "temp=3i"),
    ],
)
def test_value_types(value: object, encoded: str) -> None:
    assert encode_lines([good(point(), value)]) == [
        f"boiler,device=plc1 {encoded},temp_quality=0i {T_MS}"
    ]


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(2**64 - 1, "18446744073709551615u"), (2**63, "9223372036854775808u"), (0, "0u"), (7, "7u")],
)
def test_unsigned_points_write_every_integer_with_u(value: int, encoded: str) -> None:
    # uint64 tags: InfluxDB integers are signed (2**63 and above are refused with `i`), and a
    # field must keep one type, so every value of an unsigned point is written with `u`.
    p = Point.build("plc1", "big", "boiler", "big", {"device": "plc1"}, unsigned=True)
    (line,) = encode_lines([good(p, value)])
    assert line == f"boiler,device=plc1 big={encoded},big_quality=0i {T_MS}"
    assert parse_line(line)[2] == {"big": value, "big_quality": 0}


def test_unsigned_point_keeps_floats_and_bad_samples_as_they_are() -> None:
    p = Point.build("plc1", "big", "boiler", "big", {"device": "plc1"}, unsigned=True)
    assert encode_lines([good(p, 2.5), bad(p, T + 10**6, "timeout")]) == [
        f"boiler,device=plc1 big=2.5,big_quality=0i {T_MS}",
        f'boiler,device=plc1 big_quality=2i,big_reason="timeout" {T_MS + 1}',
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_float_is_omitted_quality_kept(value: float) -> None:
    assert encode_lines([good(point(), value)]) == [f"boiler,device=plc1 temp_quality=0i {T_MS}"]


@pytest.mark.parametrize("value", [b"bytes", [1, 2], {"a": 1}, object()])
def test_unsupported_value_type_is_a_bad_sample_counted_never_an_exception(value: object) -> None:
    before = UNENCODABLE.count
    other = point("level")
    lines = encode_lines([good(point(), value), good(other, 2.5)])
    kind = type(value).__name__
    assert lines == [
        f'boiler,device=plc1 temp_quality=2i,temp_reason="value of type {kind} cannot be '
        f'written",level=2.5,level_quality=0i {T_MS}'
    ]
    assert UNENCODABLE.count == before + 1


def test_format_field_never_raises_on_an_unexpected_type() -> None:
    assert format_field("temp", b"x") is None
    assert format_field("temp", 3) == "temp=3i"


# -- quality --------------------------------------------------------------------------------


def test_bad_sample_has_no_value_quality_2_and_reason() -> None:
    lines = encode_lines([bad(point(), T, 'read timeout after 1.0s "slave 1"')])
    assert lines == [
        "boiler,device=plc1 temp_quality=2i,"
        f'temp_reason="read timeout after 1.0s \\"slave 1\\"" {T_MS}'
    ]


def test_uncertain_sample_keeps_value_and_reason() -> None:
    sample = Sample(point(), 3.25, Quality.UNCERTAIN, T, "stale: last good 5 s ago")
    assert encode_lines([sample]) == [
        "boiler,device=plc1 temp=3.25,temp_quality=1i,"
        f'temp_reason="stale: last good 5 s ago" {T_MS}'
    ]


def test_no_reason_field_when_reason_empty_or_quality_good() -> None:
    lines = encode_lines(
        [
            Sample(point(), None, Quality.BAD, T, ""),
            Sample(point(), 1, Quality.GOOD, T + 10**6, "ignored for GOOD"),
        ]
    )
    assert lines == [
        f"boiler,device=plc1 temp_quality=2i {T_MS}",
        f"boiler,device=plc1 temp=1i,temp_quality=0i {T_MS + 1}",
    ]


# -- escaping --------------------------------------------------------------------------------


def test_escaping_of_measurement_tags_and_field_key() -> None:
    p = Point.build(
        "plc 1",
        "t",
        "boiler room,east",
        "water temp",
        {"device": "plc 1", "area": "a=b,c d", "empty": ""},
    )
    lines = encode_lines([Sample(p, 1.0, Quality.GOOD, T)])
    assert lines == [
        "boiler\\ room\\,east,area=a\\=b\\,c\\ d,device=plc\\ 1 "
        f"water\\ temp=1.0,water\\ temp_quality=0i {T_MS}"
    ]
    measurement, tags, fields, stamp = parse_line(lines[0])
    assert measurement == "boiler room,east"
    assert tags == {"area": "a=b,c d", "device": "plc 1"}
    assert fields == {"water temp": 1.0, "water temp_quality": 0}
    assert stamp == T_MS


def test_backslashes_are_not_doubled_in_names_and_tag_values() -> None:
    # InfluxDB keeps a backslash literally unless it precedes what it escapes there, so a
    # doubled one would be stored twice (C:\\\\plant).
    tags = {"device": "d", "path": "C:\\plant", "k": "a\\,b"}
    p = Point.build("d", "t", "m\\x", "f\\g", tags)
    (line,) = encode_lines([Sample(p, 1, Quality.GOOD, T)])
    assert line == f"m\\x,device=d,k=a\\\\,b,path=C:\\plant f\\g=1i,f\\g_quality=0i {T_MS}"
    assert parse_line(line) == (
        "m\\x",
        {"device": "d", "k": "a\\,b", "path": "C:\\plant"},
        {"f\\g": 1, "f\\g_quality": 0},
        T_MS,
    )


def test_double_quote_is_literal_in_tags_and_field_keys() -> None:
    p = Point.build("d", "t", 'm"', 'f"', {"device": "d", "q": '"x"'})
    (line,) = encode_lines([Sample(p, 1, Quality.GOOD, T)])
    assert line == f'm",device=d,q="x" f"=1i,f"_quality=0i {T_MS}'
    assert parse_line(line)[:3] == ('m"', {"device": "d", "q": '"x"'}, {'f"': 1, 'f"_quality': 0})


def test_measurement_keeps_equals_sign_unescaped() -> None:
    p = Point.build("d", "t", "a=b", "f", {"device": "d"})
    line = encode_lines([Sample(p, 1, Quality.GOOD, T)])[0]
    assert line == f"a=b,device=d f=1i,f_quality=0i {T_MS}"
    assert parse_line(line)[0] == "a=b"


# -- merging --------------------------------------------------------------------------------


def test_consecutive_same_series_same_timestamp_merge() -> None:
    temp, pressure, state = point("temp"), point("pressure"), point("state")
    samples = [
        good(temp, 80.5),
        good(pressure, 2, T + 400_000),  # same millisecond
        bad(state, T + 543_210, "illegal address"),  # last ns of the same millisecond
    ]
    assert encode_lines(samples) == [
        "boiler,device=plc1 temp=80.5,temp_quality=0i,pressure=2i,pressure_quality=0i,"
        f'state_quality=2i,state_reason="illegal address" {T_MS}'
    ]


def test_no_merge_when_series_differs() -> None:
    a = point("temp", device="plc1")
    b = point("temp", measurement="boiler", device="plc2")
    c = point("temp", measurement="pump", device="plc1")
    assert encode_lines([good(a, 1), good(b, 2), good(c, 3)]) == [
        f"boiler,device=plc1 temp=1i,temp_quality=0i {T_MS}",
        f"boiler,device=plc2 temp=2i,temp_quality=0i {T_MS}",
        f"pump,device=plc1 temp=3i,temp_quality=0i {T_MS}",
    ]


def test_no_merge_when_timestamp_differs() -> None:
    p = point()
    assert encode_lines([good(p, 1), good(p, 2, T + 1_000_000)]) == [
        f"boiler,device=plc1 temp=1i,temp_quality=0i {T_MS}",
        f"boiler,device=plc1 temp=2i,temp_quality=0i {T_MS + 1}",
    ]


def test_only_consecutive_samples_merge() -> None:
    a, b = point("temp", device="plc1"), point("temp", device="plc2")
    assert encode_lines([good(a, 1), good(b, 2), good(a, 3)]) == [
        f"boiler,device=plc1 temp=1i,temp_quality=0i {T_MS}",
        f"boiler,device=plc2 temp=2i,temp_quality=0i {T_MS}",
        f"boiler,device=plc1 temp=3i,temp_quality=0i {T_MS}",
    ]


def test_empty_input() -> None:
    assert encode_lines([]) == []
    assert encode_lines(iter(())) == []


def test_accepts_a_generator() -> None:
    p = point()
    assert encode_lines(good(p, i, T + i) for i in range(3)) == [
        f"boiler,device=plc1 temp=0i,temp_quality=0i,temp=1i,temp_quality=0i,"
        f"temp=2i,temp_quality=0i {T_MS}"
    ]


# -- precision --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "stamp", "divisor"),
    [
        (Precision.NS, 1_700_000_000_123_456_789, 1),
        (Precision.US, 1_700_000_000_123_456, 1_000),
        (Precision.MS, 1_700_000_000_123, 1_000_000),
        (Precision.S, 1_700_000_000, 1_000_000_000),
        ("s", 1_700_000_000, 1_000_000_000),
    ],
)
def test_precision(precision: Precision, stamp: int, divisor: int) -> None:
    assert Precision(precision).divisor == divisor
    assert encode_lines([good(point(), 1)], precision) == [
        f"boiler,device=plc1 temp=1i,temp_quality=0i {stamp}"
    ]


def test_default_precision_is_ms_and_precision_decides_merging() -> None:
    p, q = point("temp"), point("level")
    samples = [good(p, 1, T), good(q, 2, T + 1)]  # 1 ns apart
    assert len(encode_lines(samples)) == 1
    assert len(encode_lines(samples, Precision.NS)) == 2


def test_precision_values_match_the_write_api() -> None:
    assert [p.value for p in Precision] == ["ns", "us", "ms", "s"]
    assert Precision("ms") is Precision.MS


# -- parse_line --------------------------------------------------------------------------------


def test_parse_line_round_trip_of_every_type() -> None:
    p = Point.build("d", "t", "m x", "f,1", {"device": "d=1", "line": "L 1"})
    q = Point.build("d", "t", "m x", "g", {"device": "d=1", "line": "L 1"})
    samples = [
        Sample(p, 1.5, Quality.GOOD, T),
        Sample(q, -3, Quality.UNCERTAIN, T, 'why, "because" \\ ='),
    ]
    (line,) = encode_lines(samples)
    assert parse_line(line) == (
        "m x",
        {"device": "d=1", "line": "L 1"},
        {
            "f,1": 1.5,
            "f,1_quality": 0,
            "g": -3,
            "g_quality": 1,
            "g_reason": 'why, "because" \\ =',
        },
        T_MS,
    )
    for value in (True, False, "text with \"quote\" and \\ and , and = and ' '", 7, 0.25):
        fields = parse_line(encode_lines([good(p, value)])[0])[2]
        assert fields["f,1"] == value
        assert type(fields["f,1"]) is type(value)


def test_parse_line_without_tags_and_with_negative_timestamp() -> None:
    assert parse_line('m a=1i,b="x y",c=t -5') == ("m", {}, {"a": 1, "b": "x y", "c": True}, -5)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "m",
        "m a=1",  # timestamp required
        "m a=1 x",
        'm a="open 1',
        "m a=bogus 1",
        "m,tag 1=2 3",
        "m =1 2",
    ],
)
def test_parse_line_rejects_malformed(line: str) -> None:
    with pytest.raises(ValueError, match="line"):
        parse_line(line)


def test_an_unsigned_value_is_written_with_u_on_any_point():
    """OPC UA UInt64 nodes: known to be unsigned only at run time, so the value says it."""
    from gateway.model import Unsigned

    point = Point.build("meter", "energy", "meter", "energy", {})
    (line,) = encode_lines([Sample(point, Unsigned(2**64 - 1), Quality.GOOD, 1_000_000)])
    assert line == "meter energy=18446744073709551615u,energy_quality=0i 1"
