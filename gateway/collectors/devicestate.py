"""Per-device health: up, down, or demoted (pure, driven by the caller's clock).

A device whose scans keep failing (no answer) is demoted after `demote_after` failed scans in
a row: its scans are skipped, without any I/O, for a period that doubles from 1 s up to
`demote_max` seconds, then one scan is tried again. Other devices on the same connection keep
their schedules, because a demoted device no longer spends their time in timeouts. A device
that answers (even with a Modbus exception) is up.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.collectors.base import DeviceStats, State

__all__ = ["DeviceHealth", "DeviceStats", "State"]


@dataclass
class DeviceHealth:
    """Failure counting and the demotion window of one device."""

    demote_after: int = 3  # 0: never demote
    demote_max: float = 60.0
    failures: int = 0
    until: float = 0.0  # monotonic time the demotion ends
    delay: float = 1.0

    def demoted(self, now: float) -> bool:
        """True while the device's scans are to be skipped."""
        return now < self.until

    def record(self, answered: bool, now: float) -> State:
        """Account for one scan; the device's state after it."""
        if answered:
            self.failures, self.until, self.delay = 0, 0.0, 1.0
            return State.UP
        self.failures += 1
        if self.demote_after and self.failures >= self.demote_after:
            self.until = now + self.delay
            self.delay = min(self.demote_max, self.delay * 2)
            return State.DEMOTED
        return State.DOWN
