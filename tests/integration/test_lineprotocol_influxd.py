"""The encoder against a real InfluxDB parser: influxd 1.6 accepts each line and stores exactly
the names and values the tag map gave (read back through /query)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.model import Point, Quality, Sample
from gateway.sinks.lineprotocol import encode_lines
from tests.influxserver import InfluxD

pytestmark = pytest.mark.integration

T_MS = 1_700_000_000_123
T = T_MS * 1_000_000


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxD]:
    server = InfluxD(Path(tmp_path_factory.mktemp("influxd")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def write_ok(influxd: InfluxD, samples: list[Sample]) -> list[str]:
    lines = encode_lines(samples)
    status, body = influxd.write(lines)
    assert status == 204, f"{status} {body}: {lines}"
    return lines


TAG_VALUES = ["C:\\plant", "a\\,b", "a\\ b", "a\\=b", "a=b,c d", 'say "hi"', "\\\\srv\\share"]


def test_tag_values_are_stored_as_given(influxd: InfluxD) -> None:
    points = [
        Point.build("plc1", "t", "tagvalues", "f", {"device": "plc1", "n": str(n), "path": value})
        for n, value in enumerate(TAG_VALUES)
    ]
    write_ok(influxd, [Sample(p, 1, Quality.GOOD, T) for p in points])
    rows = sorted(influxd.rows("tagvalues"), key=lambda row: int(row["n"]))
    assert [row["path"] for row in rows] == TAG_VALUES
    assert rows[0] == {
        "time": T_MS,
        "device": "plc1",
        "n": "0",
        "path": "C:\\plant",
        "f": 1,
        "f_quality": 0,
    }


@pytest.mark.parametrize(
    ("tags", "field"),
    [({"device": "plc1", "path": "C:\\plant\\"}, "f"), ({"device": "plc1"}, "f\\")],
    ids=["tag value", "field"],
)
def test_a_trailing_backslash_cannot_be_carried(
    influxd: InfluxD, tags: dict[str, str], field: str
) -> None:
    # Why `gateway check` refuses a name or tag value that ends with a backslash: the
    # backslash escapes the separator after it and InfluxDB refuses the whole line.
    p = Point.build("plc1", "t", "trailing", field, tags)
    status, body = influxd.write(encode_lines([Sample(p, 1, Quality.GOOD, T)]))
    assert (status, "unable to parse" in body) == (400, True)


def test_names_with_special_characters(influxd: InfluxD) -> None:
    measurement = "boiler room,east=1 C:\\x"
    tags = {"device": "plc1", "area code": "a=b", "k,e=y": "v", "di\\r": "C:\\plant"}
    p = Point.build("plc1", "t", measurement, 'water temp,=1 "x" C:\\y', tags)
    write_ok(influxd, [Sample(p, 60.5, Quality.GOOD, T)])
    assert measurement in influxd.measurements()
    assert influxd.rows(measurement) == [
        {
            "time": T_MS,
            "area code": "a=b",
            "device": "plc1",
            "di\\r": "C:\\plant",
            "k,e=y": "v",
            'water temp,=1 "x" C:\\y': 60.5,
            'water temp,=1 "x" C:\\y_quality': 0,
        }
    ]


def test_every_value_type_and_reason(influxd: InfluxD) -> None:
    def point(field: str) -> Point:
        return Point.build("plc1", field, "types", field, {"device": "plc1"})

    samples = [
        Sample(point("f"), 21.5, Quality.GOOD, T),
        Sample(point("i_max"), 2**63 - 1, Quality.GOOD, T),
        Sample(point("i_min"), -(2**63), Quality.GOOD, T),
        Sample(point("b"), True, Quality.GOOD, T),
        Sample(point("s"), 'a "quoted" \\ back\\slash \\', Quality.GOOD, T),
        Sample(point("bad"), None, Quality.BAD, T, 'timeout "slave 1" \\'),
    ]
    assert len(write_ok(influxd, samples)) == 1  # one line: one series, one timestamp
    assert influxd.rows("types") == [
        {
            "time": T_MS,
            "device": "plc1",
            "f": 21.5,
            "f_quality": 0,
            "i_max": 2**63 - 1,
            "i_max_quality": 0,
            "i_min": -(2**63),
            "i_min_quality": 0,
            "b": True,
            "b_quality": 0,
            "s": 'a "quoted" \\ back\\slash \\',
            "s_quality": 0,
            "bad_quality": 2,
            "bad_reason": 'timeout "slave 1" \\',
        }
    ]
    assert influxd.field_types("types") == {
        "b": "boolean",
        "b_quality": "integer",
        "bad_quality": "integer",
        "bad_reason": "string",
        "f": "float",
        "f_quality": "integer",
        "i_max": "integer",
        "i_max_quality": "integer",
        "i_min": "integer",
        "i_min_quality": "integer",
        "s": "string",
        "s_quality": "integer",
    }
