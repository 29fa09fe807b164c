"""Numbers as the PLC meant them: float32 with float32 digits, scaled integers with the
scale's resolution."""

from __future__ import annotations

import random
import struct

import pytest

from gateway.model import Point, Quality, Sample
from gateway.pipeline.scale import Scale, decimals, resolution
from gateway.sinks.floats import float32_text, float32_texts, to_float32
from gateway.sinks.lineprotocol import encode_lines, parse_line

POINT = Point.build("plc", "v", "m", "v", {})
SINGLE = Point.build("plc", "v", "m", "v", {}, float32=True)


def random_float32(rng: random.Random) -> float:
    """A finite, normal float32 with random bits."""
    while True:
        bits = rng.getrandbits(32)
        exponent = bits >> 23 & 0xFF
        if 0 < exponent < 0xFF:
            return float(struct.unpack("<f", struct.pack("<I", bits))[0])


def shortest(value: float) -> int:
    """Significant digits of the shortest decimal that reads back as the float32 `value`."""
    return next(d for d in range(1, 10) if to_float32(float(f"{value:.{d}g}")) == value)


def digits(text: str) -> int:
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa.rstrip("0")) or 1


def test_the_voltage_of_the_issue() -> None:
    assert float32_text(105.24388885498047) == "105.24389"
    assert float32_texts([105.24388885498047]) == ["105.24389"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (80.5, "80.5"),
        (200.0, "200.0"),  # a whole number still reads as a float
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (12345678.0, "12345678.0"),
        (to_float32(0.1), "0.1"),
        (to_float32(3.4028234663852886e38), "3.4028235e+38"),  # float32 max: 8 digits
        (to_float32(1e-5), "1e-05"),
    ],
)
def test_known_texts(value: float, text: str) -> None:
    assert float32_text(value) == text
    assert float32_texts([value]) == [text]


def test_random_float32_read_back_exactly_with_the_fewest_digits() -> None:
    rng = random.Random(7)
    values = [random_float32(rng) for _ in range(5000)]
    for start in range(0, len(values), 125):  # responses of 125 values
        chunk = values[start : start + 125]
        texts = float32_texts(chunk)
        assert texts == [float32_text(v) for v in chunk]
        for value, text in zip(chunk, texts, strict=True):
            assert to_float32(float(text)) == value, (value, text)
            assert digits(text) == shortest(value), (value, text)
            assert digits(text) <= 9


def test_a_float64_reading_beside_it_keeps_its_repr() -> None:
    (line,) = encode_lines([Sample(POINT, 105.24388885498047, Quality.GOOD, 0)])
    assert "v=105.24388885498047," in line
    (line,) = encode_lines([Sample(SINGLE, 105.24388885498047, Quality.GOOD, 0)])
    assert "v=105.24389," in line
    assert parse_line(line)[2]["v"] == pytest.approx(105.24388885498047, rel=1e-7)


def test_a_float32_points_value_is_written_as_the_float32_nearest_it() -> None:
    scaled = to_float32(105.24388885498047) * 0.001  # a value that is not float32 already
    (line,) = encode_lines([Sample(SINGLE, scaled, Quality.GOOD, 0)])
    assert "v=0.10524389," in line


def test_beyond_the_float32_range_the_repr_is_kept() -> None:
    assert float32_text(1e39) == "1e+39"


@pytest.mark.parametrize(
    ("number", "places"), [(0.1, 1), (2.5e-3, 4), (20.0, 0), (1, 0), (-0.25, 2), (1e-5, 5)]
)
def test_decimals_as_written(number: float, places: int) -> None:
    assert decimals(number) == places


def test_a_factor_of_no_decimal_resolution_is_not_rounded() -> None:
    assert resolution(100 / 27648, 0.0) is None
    assert resolution(0.1, 0.25) == 2


def scaled(value: int | float, factor: float, offset: float = 0.0) -> object:
    sample = Sample(POINT, value, Quality.GOOD, 0)
    Scale({POINT: (factor, offset)})(sample)
    return sample.value


def test_a_scaled_integer_has_the_scales_resolution() -> None:
    assert 943 * 0.1 == 94.30000000000001  # what it was
    assert scaled(943, 0.1) == 94.3
    assert repr(scaled(943, 0.1)) == "94.3"
    assert repr(scaled(7, 0.1, -273.15)) == "-272.45"
    assert repr(scaled(3, 0.005)) == "0.015"
    (line,) = encode_lines([Sample(POINT, scaled(943, 0.1), Quality.GOOD, 0)])
    assert "v=94.3," in line


def test_a_scaled_float_is_not_rounded_to_the_factor() -> None:
    assert scaled(12.345, 1.5) == 12.345 * 1.5
    assert scaled(True, 0.1) is True


def test_a_scaled_float32_tag_keeps_the_digits_its_offset_adds() -> None:
    from gateway.collectors.modbus.compile import compile_connections
    from gateway.collectors.modbus.models import ModbusDevice
    from gateway.pipeline import build_pipeline

    tag = {"name": "v", "space": "holding_register", "address": 0, "type": "float32"}
    device = ModbusDevice.model_validate(
        {
            "name": "plc",
            "endpoint": "modbus+tcp://h:1",
            "tags": [tag, {**tag, "name": "w", "address": 2, "scale": {"offset": 1000}}],
        }
    )
    (plan,) = compile_connections([device])
    plain, offset = plan.tag_plans()
    assert plain.point.float32
    assert not offset.point.float32
    raw = to_float32(0.001234)
    samples = [Sample(p.point, raw, Quality.GOOD, 0) for p in (plain, offset)]
    (line,) = encode_lines(build_pipeline([plain, offset]).apply(samples))
    fields = parse_line(line)[2]
    assert to_float32(fields["v"]) == raw  # float32 digits, read back as the same float32
    assert fields["w"] == pytest.approx(1000.001234, abs=1e-9)


def test_a_scaled_unsigned_reading_has_the_scales_resolution() -> None:
    from gateway.model import Unsigned

    assert repr(scaled(Unsigned(943), 0.1)) == "94.3"  # an OPC UA UInt64 node's value
