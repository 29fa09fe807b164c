"""Paced replay: a line is sent when its recorded time, run `speed` times faster than real
time, has come (the first line sets the start)."""

from __future__ import annotations

from gateway.clock import Clock

__all__ = ["Pacer"]


class Pacer:
    """Seconds to wait before a line recorded at `time_ns` is due (None `speed`: never)."""

    def __init__(self, speed: float | None, clock: Clock) -> None:
        self.speed = speed
        self.clock = clock
        self._origin: tuple[int, float] | None = None  # first recorded ns, its monotonic time

    def wait(self, time_ns: int) -> float:
        if self.speed is None:
            return 0.0
        if self._origin is None:
            self._origin = (time_ns, self.clock.monotonic())
            return 0.0
        first_ns, started = self._origin
        due = started + (time_ns - first_ns) / 1e9 / self.speed
        return max(0.0, due - self.clock.monotonic())
