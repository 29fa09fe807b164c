"""Fixed-rate schedules: no drift, late scans skipped and counted."""

import asyncio

from gateway.clock import SystemClock
from gateway.collectors.schedule import FixedRate, Stop, sleep_or_stop


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
