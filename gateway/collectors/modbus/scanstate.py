"""What one scan's requests came to (pure): did the device answer, why not, what comes next.

A device that answers any request of a scan (even with a Modbus exception) is up: one request
that gets no answer makes only its own tags BAD. A scan counts as failed for the device's
health only when requests went unanswered and none was answered; a scan cut short by a lost
link does not count at all (the link is the connection's failure, not the device's).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.collectors.modbus.extract import exception_reason
from gateway.collectors.modbus.planner import ReadRequest
from gateway.model import Sample

#: exceptions a gateway or device gives for a unit id it does not serve
UNIT_EXCEPTIONS = frozenset({4, 11})


class Outcome(enum.Enum):
    """Of one request."""

    ANSWERED = "answered"  # values or a Modbus exception
    SILENT = "silent"  # no answer within the timeout, after the retries
    LINK_LOST = "link lost"


@dataclass
class ScanTally:
    """The requests of one scan, added as they are read."""

    answered_requests: list[ReadRequest] = field(default_factory=list)
    silent_requests: list[ReadRequest] = field(default_factory=list)
    silent_reason: str = ""  # of the first request that got no answer
    link_lost: bool = False
    values: bool = False  # some request was answered with values
    codes: set[int] = field(default_factory=set)  # exception codes answered

    @property
    def silent(self) -> bool:
        """Some request got no answer."""
        return bool(self.silent_requests)

    def add(self, request: ReadRequest, outcome: Outcome, code: int, samples: list[Sample]) -> None:
        """Account for one request read (`code`: its Modbus exception, 0 for none)."""
        if outcome is Outcome.SILENT:
            self.silent_requests.append(request)
            if not self.silent_reason and samples:
                self.silent_reason = samples[0].reason
            return
        self.answered_requests.append(request)
        if outcome is Outcome.LINK_LOST:
            self.link_lost = True
        elif code:
            self.codes.add(code)
        else:
            self.values = True

    @property
    def answered(self) -> bool | None:
        """For the device's health: True (up), False (a failed scan) or None (not counted)."""
        if self.values or self.codes:
            return True
        if self.silent and not self.link_lost:
            return False
        return None

    @property
    def unit_hint(self) -> str:
        """The exceptions, when every request was answered with 4 or 11 (a wrong unit id
        looks like that); else ""."""
        if self.values or self.silent or self.link_lost or not self.codes <= UNIT_EXCEPTIONS:
            return ""
        return " or ".join(exception_reason(code) for code in sorted(self.codes))

    def next_order(self, unread: Iterable[ReadRequest]) -> list[ReadRequest]:
        """The requests in the order of the next scan: the ones that got no answer last, so
        that within the scan's time budget the answering ones are read first."""
        return [*self.answered_requests, *unread, *self.silent_requests]


def unit_hint_message(unit: int, exceptions: str) -> str:
    """The hint logged once when every request of a unit gets exception 4 or 11."""
    return (
        f"every request to unit {unit} is answered with {exceptions}; check that unit_id "
        f"{unit} is the device's (behind a TCP-to-RTU gateway: the id of the device on the "
        "serial line)"
    )


def split_message(device: str, merged: ReadRequest, pieces: list[ReadRequest]) -> str:
    """The warning logged once when a read refused with exception 2 is split for good."""
    gaps = sum(p.count for p in pieces) < merged.count
    why = (
        "it bridges registers the device does not define"
        if gaps
        else "one of its tags reads registers the device does not define"
    )
    advice = "set max_gap lower to plan it that way" if gaps else "check the tags' addresses"
    return (
        f"Device {device} refused the read of {merged.space.value} {merged.start}.."
        f"{merged.start + merged.count - 1} (illegal data address): {why}, so it is split "
        f"into {len(pieces)} reads from now on ({advice})."
    )
