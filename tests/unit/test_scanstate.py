"""What a scan's requests come to for the device's health (pure)."""

from __future__ import annotations

from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.scanstate import Outcome, ScanTally
from gateway.collectors.modbus.types import Space
from gateway.model import Point, bad

POINT = Point.build("d", "t", "m", "t", {})
A, B, C = (ReadRequest(Space.HOLDING_REGISTER, 1, start, 1, ()) for start in (0, 10, 20))


def tally(*outcomes: tuple[ReadRequest, Outcome, int]) -> ScanTally:
    result = ScanTally()
    for request, outcome, code in outcomes:
        result.add(request, outcome, code, [bad(POINT, 0, f"{outcome.value} {request.start}")])
    return result


def test_any_answer_is_up_even_an_exception() -> None:
    assert tally((A, Outcome.SILENT, 0), (B, Outcome.ANSWERED, 0)).answered is True
    assert tally((A, Outcome.SILENT, 0), (B, Outcome.ANSWERED, 2)).answered is True


def test_no_answer_is_a_failed_scan_with_the_first_silent_reason() -> None:
    scan = tally((A, Outcome.SILENT, 0), (B, Outcome.SILENT, 0))
    assert scan.answered is False
    assert scan.silent_reason == "silent 0"


def test_a_lost_link_is_not_counted() -> None:
    assert tally((A, Outcome.LINK_LOST, 0)).answered is None
    assert tally((A, Outcome.SILENT, 0), (B, Outcome.LINK_LOST, 0)).answered is None


def test_silent_requests_go_last_unread_ones_before_them() -> None:
    scan = tally((A, Outcome.SILENT, 0), (B, Outcome.ANSWERED, 0))
    assert scan.next_order([C]) == [B, C, A]


def test_unit_hint_only_when_every_request_gets_4_or_11() -> None:
    assert "exception 11" in tally((A, Outcome.ANSWERED, 11), (B, Outcome.ANSWERED, 11)).unit_hint
    both = tally((A, Outcome.ANSWERED, 4), (B, Outcome.ANSWERED, 11)).unit_hint
    assert "exception 4" in both
    assert "exception 11" in both
    assert tally((A, Outcome.ANSWERED, 11), (B, Outcome.ANSWERED, 0)).unit_hint == ""
    assert tally((A, Outcome.ANSWERED, 11), (B, Outcome.ANSWERED, 2)).unit_hint == ""
    assert tally((A, Outcome.ANSWERED, 11), (B, Outcome.SILENT, 0)).unit_hint == ""
