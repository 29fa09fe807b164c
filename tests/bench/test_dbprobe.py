"""The benchmark's database probe against a real VictoriaMetrics: a run is measured only once
its own gateway's points are visible, never on the points an earlier run left there."""

from __future__ import annotations

import time
import urllib.request

from bench import dbprobe
from tests.vmserver import VictoriaMetrics

DEADLINE_S = 30.0  # a generous bound for a poll or a write to show, not a measured time


def write_t0(url: str, device: str, at_s: float) -> None:
    line = f"bench,device={device} t0=1 {round(at_s * 1000)}".encode()
    request = urllib.request.Request(f"{url}/write?precision=ms", data=line, method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=30).close()


def wait_until(done, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_points_of_an_earlier_run_do_not_count_as_the_new_runs_first_data(
    victoria: VictoriaMetrics,
) -> None:
    """A saturation step runs on the database of the steps before it: their points, within
    the probe's look-back, must not start the step's warm-up before its gateway writes."""
    write_t0(victoria.url, "d000", time.time() - 20)  # the previous step's last scan
    wait_until(lambda: dbprobe._query(victoria.url, dbprobe.FIRST_SERIES), "old point visible")
    probe = dbprobe.LatencyProbe(victoria.url)
    probe.start()
    try:
        wait_until(lambda: probe.polls >= 2, "the probe polled")
        assert not probe.seen()
        write_t0(victoria.url, "d000", time.time())  # this step's gateway writes
        wait_until(probe.seen, "the new point seen")
    finally:
        probe.stop()
