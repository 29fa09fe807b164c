"""Fixed-rate schedules: no drift, late scans skipped and counted."""

import asyncio

import pytest

from gateway.clock import SystemClock
from gateway.collectors.schedule import FixedRate, PhasedRate, Stop, phases, sleep_or_stop
from gateway.testing import FakeClock

NS = 1_000_000_000


def test_on_time_scans_keep_the_grid_without_drift():
    rate = FixedRate(interval=1.0, next_due=100.0)
    late = 0
    for n in range(1, 1001):
        # each scan finishes 0.3 s after it was due: the next is still due on the grid
        late += rate.advance(rate.next_due + 0.3)
        assert rate.next_due == 100.0 + n
    assert late == 0


def test_an_overrun_skips_the_missed_slots_instead_of_queueing_them():
    rate = FixedRate(interval=1.0, next_due=10.0)
    # the scan due at 10.0 ended at 12.5: slots 11 and 12 were missed; next due is 13.0
    assert rate.advance(12.5) == 2
    assert rate.next_due == 13.0


def test_finishing_exactly_on_the_next_slot_is_not_late():
    rate = FixedRate(interval=0.5, next_due=1.0)
    assert rate.advance(1.5) == 0
    assert rate.next_due == 1.5


async def test_a_stop_wakes_a_long_sleep_at_once_without_a_task_per_sleep():
    stop = Stop()
    loop = asyncio.get_running_loop()
    tasks = len(asyncio.all_tasks())
    loop.call_soon(lambda: (seen.append(len(asyncio.all_tasks())), stop.set()))
    seen: list[int] = []
    began = loop.time()
    assert await sleep_or_stop(SystemClock(), 3600.0, stop) is True
    assert loop.time() - began < 60  # woken by the stop, not by the hour's timer
    assert seen == [tasks]  # the sleep is one timer and one future, no task
    assert stop._sleepers == set()
    assert await sleep_or_stop(SystemClock(), 3600.0, stop) is True  # already set


async def test_a_stop_aware_sleep_ends_with_its_timer():
    stop = Stop()
    assert await sleep_or_stop(SystemClock(), 0.001, stop) is False
    assert await sleep_or_stop(SystemClock(), -1.0, stop) is False  # overdue: just a yield
    assert stop._sleepers == set()


async def test_a_plain_event_and_another_clock_still_work():
    class Instant:
        def now_ns(self) -> int:
            return 0

        def monotonic(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            return None

    assert await sleep_or_stop(Instant(), 3600.0, Stop()) is False
    stop = asyncio.Event()
    asyncio.get_running_loop().call_soon(stop.set)
    assert await sleep_or_stop(SystemClock(), 3600.0, stop) is True


def circular_gaps(phases: list[int], interval: int) -> list[int]:
    """The gaps between neighbouring phases on the circle of one interval."""
    ordered = sorted(phases)
    return [b - a for a, b in zip(ordered, [*ordered[1:], ordered[0] + interval], strict=True)]


def test_phases_are_deterministic_and_within_the_interval():
    jobs = [(f"dev{i}", rate) for i in range(7) for rate in (0.1, 1.0, 60.0)]
    first = phases("modbus+tcp://10.0.0.5:502", jobs)
    assert first == phases("modbus+tcp://10.0.0.5:502", list(reversed(jobs)))  # no order
    assert set(first) == set(jobs)
    for (_, rate), phase in first.items():
        assert 0 <= phase < rate * NS
    assert first != phases("modbus+tcp://10.0.0.6:502", jobs)  # another connection


def test_the_scans_of_one_connection_at_one_rate_run_together():
    """They share one link, so they run back to back anyway: one wake-up for all of them."""
    phase = phases("modbus+tcp://plc:502", [(f"unit{i}", 0.1) for i in range(4)])
    assert len(set(phase.values())) == 1
    other = phases("modbus+tcp://plc:502", [("unit0", 1.0), ("unit1", 0.1)])
    assert other["unit1", 0.1] == phase["unit1", 0.1]
    assert 0 <= other["unit0", 1.0] < NS


def test_connections_at_one_rate_are_spread_over_the_interval():
    interval = NS // 10
    spread = [
        phases(f"modbus+tcp://127.0.0.1:{5020 + i}", [("dev", 0.1)])["dev", 0.1] for i in range(100)
    ]
    assert len(set(spread)) == 100
    gaps = circular_gaps(spread, interval)
    assert max(gaps) < interval // 10  # no 10 ms of the 100 ms without a due scan


def test_a_phased_rate_runs_at_once_then_on_its_wall_clock_phase_without_drift():
    clock = FakeClock(start_ns=1_700_000_000_123_456_789)
    clock.advance(5.0)
    phase = 30_000_000  # 30 ms into every 100 ms of wall time
    rate = PhasedRate(0.1, clock.monotonic(), phase)
    assert rate.next_due == clock.monotonic()  # the first scan is due at the start
    clock.advance(0.004)  # the first scan took 4 ms
    assert rate.after_run(clock) == 0
    aligned = rate.next_due
    assert 0 < aligned - clock.monotonic() <= 0.1
    wall_at_due = clock.now_ns() + round((aligned - clock.monotonic()) * NS)
    assert wall_at_due % (NS // 10) == pytest.approx(phase, abs=1000)
    late = 0
    for n in range(1, 1001):
        clock.mono = rate.next_due + 0.02  # every scan ends 20 ms after it was due
        late += rate.after_run(clock)
        assert rate.next_due == pytest.approx(aligned + n * 0.1, abs=1e-6)
    assert late == 0


def test_a_slow_first_scan_is_not_counted_late():
    clock = FakeClock()
    rate = PhasedRate(0.1, clock.monotonic(), 0)
    clock.advance(0.35)  # the first scan (connecting) took three and a half intervals
    assert rate.after_run(clock) == 0
    assert clock.monotonic() < rate.next_due <= clock.monotonic() + 0.1
    clock.mono = rate.next_due + 0.25  # an overrun on the grid is counted as before
    assert rate.after_run(clock) == 2
