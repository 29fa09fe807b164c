"""gateway replay, pure parts: validating, diagnosing and shifting lines, the precision of a
file, its input files, lines with byte offsets, the shift."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.replay.lines import check, detect_precision, diagnose, is_data, shifted
from gateway.replay.reading import (
    InputError,
    input_files,
    last_timestamp,
    parse_shift,
    read_lines,
    shift_offset,
)
from gateway.sinks.lineprotocol import Precision, parse_line
from simulators.record import record_line

GOOD = [
    record_line("cell", "cell01", {"v": 8.61, "state": 0, "ok": True}, {"t": "Bad"}, 17 * 10**17),
    "boiler,device=plc1,line=L1 temp=80.5,temp_quality=0i,running=true 1700000000123",
    r"boiler\ room,area=a\=b\,\ c,device=plc1,path=C:\plant water\ temp=60.0,water\ t=0i 1",
    'm,t=x s="a, b = c \\"quoted\\" and \\\\",n=-1.5e-3,u=18446744073709551615u,b=F 42',
    "m v=1 -5",
    "m v=.5,w=1.,x=+2E+10 0",
]

MALFORMED = {
    "cell,device=c1 v=1.0": "no timestamp",
    "cell,device=c1": "no fields",
    "cell 1700000000": "no fields",
    "cell v=abc 1": "bad value of field 'v': 'abc'",
    "cell v=1.0.0 1": "bad value of field 'v'",
    "cell,device v=1 1": "bad tag 'device'",
    "cell v=1 12x": "bad timestamp '12x'",
    "cell v=1 1 2": "more than three space-separated parts",
    ",t=1 v=1 1": "no measurement",
    "cell =1 1": "bad field '=1'",
    "cell v=-5u 1": "bad value of field 'v': '-5u'",
    "cell v=1 \u0661\u0662": "bad timestamp",  # Arabic-Indic digits: int() reads them
    'cell s="open 1': "a string field's closing quote is missing",
    'cell s="a \\"b\\" c"': "no timestamp",  # escaped quotes are not the string's end
}


@pytest.mark.parametrize("line", GOOD)
def test_well_formed_lines_pass_and_their_timestamp_is_found(line: str) -> None:
    start = check(line)
    assert start is not None
    assert int(line[start:]) == parse_line(line)[3]


def test_shifted_moves_only_the_timestamp() -> None:
    line = GOOD[1]
    start = check(line)
    assert start is not None
    assert shifted(line, start, -123) == line.replace("1700000000123", "1700000000000")
    assert shifted(line, start, 0) is line


@pytest.mark.parametrize(("line", "reason"), MALFORMED.items())
def test_malformed_lines_are_refused_with_their_reason(line: str, reason: str) -> None:
    assert check(line) is None
    assert reason in diagnose(line)


def test_blank_lines_and_comments_are_not_data() -> None:
    assert [is_data(t) for t in ("", "   ", "# comment", "  # indented", "m v=1 1")] == [
        False,
        False,
        False,
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("first", "precision"),
    [
        (1_700_000_000, Precision.S),
        (1_700_000_000_123, Precision.MS),
        (1_700_000_000_123_456, Precision.US),
        (1_700_000_000_123_456_789, Precision.NS),
        (120_000_000, Precision.S),  # 1973
        (9_000_000_000_000, Precision.MS),  # 2255
        (5, Precision.NS),  # a date in none of them: line protocol's default
        (50_000_000_000_000_000, Precision.NS),  # between ranges
    ],
)
def test_precision_is_detected_from_the_magnitude(first: int, precision: Precision) -> None:
    assert detect_precision(first) is precision


def test_a_directory_replays_its_lp_files_in_name_order(tmp_path: Path) -> None:
    for name in (
        "gateway.lp",
        "gateway-20260101T000001000000.lp",
        "gateway-20260101T000000000000.lp",
    ):
        (tmp_path / name).write_text("m v=1 1\n")
    (tmp_path / ".replay-state.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("x")
    names = [p.name for p in input_files(tmp_path)]
    assert names == [
        "gateway-20260101T000000000000.lp",
        "gateway-20260101T000001000000.lp",
        "gateway.lp",
    ]
    assert input_files(tmp_path / "gateway.lp") == [tmp_path / "gateway.lp"]


def test_missing_or_empty_input_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        input_files(tmp_path / "absent.lp")
    with pytest.raises(InputError, match=r"no \*\.lp or \*\.lp\.gz files"):
        input_files(tmp_path)


def test_lines_resume_at_a_byte_offset_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.lp"
    path.write_bytes(b"m v=1 1\r\n  m v=2 2 \t\n\xff\nm v=3 3")
    lines = list(read_lines(path))
    assert [(x.number, x.text) for x in lines] == [
        (1, "m v=1 1"),
        (2, "m v=2 2"),
        (3, None),
        (4, "m v=3 3"),
    ]
    again = list(read_lines(path, lines[1].end, lines[1].number))
    assert [(x.number, x.text) for x in again] == [(3, None), (4, "m v=3 3")]


def test_last_timestamp_reads_back_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "a.lp"
    path.write_text("m v=1 10\n" + "m v=2 20\n" * 50 + "m v=3 30\nnot a line\n\n")
    assert last_timestamp(path, block=16) == 30
    (tmp_path / "b.lp").write_text("nothing here\n")
    assert last_timestamp(tmp_path / "b.lp") is None


def test_shift_is_now_or_an_iso_time_in_utc() -> None:
    assert parse_shift("now") is None
    assert parse_shift("2026-01-31T08:00:00Z") == 1_769_846_400 * 10**9
    assert parse_shift("2026-01-31T08:00:00") == 1_769_846_400 * 10**9  # no offset: UTC
    assert parse_shift("2026-01-31T09:00:00.5+01:00") == 1_769_846_400_500_000_000
    with pytest.raises(InputError, match="expected `now` or an ISO 8601 time"):
        parse_shift("yesterday")


def test_one_offset_moves_the_run_to_end_now_or_start_at_a_time(tmp_path: Path) -> None:
    first, second = tmp_path / "a.lp", tmp_path / "b.lp"
    first.write_text("m v=1 1700000000000\nm v=1 1700000001000\n")  # ms
    second.write_text("m v=1 1700000002000000000\nm v=1 1700000003000000000\n")  # ns
    files, precisions = [first, second], [Precision.MS, Precision.NS]
    now = 1_800_000_000_000_000_000
    assert shift_offset(None, files, precisions, now) == now - 1_700_000_003_000_000_000
    start = 1_600_000_000_000_000_000
    assert shift_offset(start, files, precisions, now) == start - 1_700_000_000_000_000_000
    (tmp_path / "c.lp").write_text("bad\n")
    with pytest.raises(InputError, match="no well-formed line"):
        shift_offset(None, [tmp_path / "c.lp"], [Precision.NS], now)
