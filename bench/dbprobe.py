"""What the Modbus benchmark reads back from VictoriaMetrics: samples counted in the database,
scan jitter from the stored timestamps, and latency from sample time to visible.

- Count: `sum(count_over_time(<value series>[W]))` at the window's end, after a flush: every
  float32 value stored with a timestamp in the measured window (the `_quality` fields apart).
- Jitter: a sample's timestamp is when its read was answered (the gateway stamps each response
  on arrival), so the first request's timestamp of each scan (series `bench_t0`, one per
  device) is when the scan really ran plus one round trip. Each such timestamp is set against
  a grid `anchor + k * interval`, the anchor being the phase (timestamp modulo the interval)
  that makes the total lateness of the group smallest, lateness counted forward from it (so a
  scan late by more than half an interval is not folded onto the next slot): per
  device for the jitter (how much later than its own most punctual scan a device's scan ran),
  per endpoint for the lateness against the connection's one schedule (which adds the wait of
  devices sharing a connection behind each other). Milliseconds (the stored precision).
- Latency: a thread asks every 50 ms for the newest timestamp of `bench_t0` of every device
  (`tlast_over_time`) and, for each new one, records the wall clock minus that timestamp: the
  time from the read to the point being visible to a query, plus up to one poll period. It
  asks with `nocache=1`: VictoriaMetrics (1.79, Debian's) evaluates an instant query at "now"
  at least 1 s in the past whatever `-search.latencyOffset` says (it raises smaller offsets
  to 1 s), unless `nocache=1` is given; with it a query sees every point the database has
  made searchable (the storage's own flush of new rows, about once a second, stays in the
  figure). The same query without `nocache` is kept as `shifted` (what the figure was before).
- Database delay: every second the thread also writes one point of its own (`dbprobe_v`)
  and times how long after the write returned a `nocache` query sees it: the database's own
  share of the latency, measured in the same run.
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.modbus_map import FIRST_SERIES, VALUE_SERIES

POLL_S = 0.05
MARK_EVERY_S = 1.0  # a point of the probe's own, to time the database's own delay
MARK_SERIES = "dbprobe_v"


def _get(url: str, path: str, params: dict[str, str] | None = None) -> bytes:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"{url}{path}{query}", timeout=30) as resp:
        return bytes(resp.read())


def _query(
    url: str, promql: str, at: float | None = None, fresh: bool = False
) -> list[dict[str, Any]]:
    """An instant query; `fresh`: `nocache=1`, not shifted 1 s back (module docstring)."""
    params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
    if fresh:
        params["nocache"] = "1"
    body = json.loads(_get(url, "/api/v1/query", params))
    return list(body["data"]["result"])


def _write_mark(url: str, stamp_ms: int) -> None:
    body = f"dbprobe v=1 {stamp_ms}".encode()
    target = f"{url}/api/v2/write?org=bench&bucket=bench&precision=ms"
    with urllib.request.urlopen(urllib.request.Request(target, data=body), timeout=30):
        pass


def count_samples(url: str, start: float, end: float) -> int:
    """Float32 values stored with a timestamp in (start, end] (wall seconds)."""
    _get(url, "/internal/force_flush")
    window_ms = round((end - start) * 1000)
    result = _query(url, f"sum(count_over_time({VALUE_SERIES}[{window_ms}ms]))", end)
    return int(float(result[0]["value"][1])) if result else 0


def scan_times(url: str, start: float, end: float) -> dict[str, list[int]]:
    """Device -> timestamps (ms) of its scans' first response in [start, end]."""
    _get(url, "/internal/force_flush")
    params = {"match[]": FIRST_SERIES, "start": f"{start:.3f}", "end": f"{end:.3f}"}
    found = {}
    for line in _get(url, "/api/v1/export", params).decode().splitlines():
        if line.strip():
            series = json.loads(line)
            found[series["metric"]["device"]] = sorted(series["timestamps"])
    return found


def lateness_ms(
    times: dict[str, list[int]], group_of: dict[str, int], interval: float
) -> list[float]:
    """Each scan's lateness against the grid of its group (see the module docstring)."""
    step = interval * 1000
    grouped: dict[int, list[int]] = defaultdict(list)
    for device, stamps in times.items():
        grouped[group_of[device]] += stamps
    late: list[float] = []
    for stamps in grouped.values():
        phases = [t % step for t in stamps]
        anchor = _punctual(sorted(phases), step)
        late += [(p - anchor) % step for p in phases]
    return late


def _punctual(phases: list[float], step: float) -> float:
    """The grid's phase: the one that makes the scans' total lateness smallest (lateness runs
    from the anchor forward, modulo the interval; scans are late, never early)."""
    if not phases:
        return 0.0
    total, n = sum(phases), len(phases)
    # anchor phases[j]: the j phases below it are late by p - anchor + step, the others p - anchor
    cost = [(total - n * p + step * j, p) for j, p in enumerate(phases)]
    return min(cost)[1]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class LatencyProbe:
    """Polls the newest `bench_t0` timestamp per device from a thread while running."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []  # nocache: visible to a query
        self.shifted: list[float] = []  # the default instant query (1 s in the past)
        self.db_delays: list[float] = []  # the probe's own point: written -> visible
        self.errors = 0
        self._newest: dict[str, float] = {}
        self.polls = 0  # answered polls so far
        self._since = math.inf  # wall time the probe started: points before are another run's
        self._newest_shifted: dict[str, float] = {}
        self._mark: tuple[int, float] | None = None  # (stamp ms, written at)
        self._next_mark = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.recording = False

    def start(self) -> None:
        self._since = time.time()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def seen(self) -> bool:
        """Whether a point stamped since `start` has become visible: one an earlier run (a
        previous saturation step, on the same database) left is not this run's first data."""
        return any(stamp >= self._since for stamp in self._newest.values())

    def _run(self) -> None:
        newest = f"tlast_over_time({FIRST_SERIES}[1m])"
        while not self._stop.wait(POLL_S):
            try:
                fresh = _query(self.url, newest, fresh=True)
                now = time.time()
                shifted = _query(self.url, newest)
                self._time_mark()
            except OSError:
                self.errors += 1
                continue
            self.polls += 1
            self._record(fresh, now, self._newest, self.latencies)
            self._record(shifted, time.time(), self._newest_shifted, self.shifted)

    def _record(
        self, result: list[dict[str, Any]], now: float, newest: dict[str, float], out: list[float]
    ) -> None:
        for series in result:
            device, stamp = series["metric"].get("device", ""), float(series["value"][1])
            if stamp > newest.get(device, 0.0):
                if self.recording and device in newest:  # not the first sight
                    out.append(now - stamp)
                newest[device] = stamp

    def _time_mark(self) -> None:
        """Write the probe's own point every MARK_EVERY_S; time until a query sees it."""
        now = time.time()
        if self._mark is None:
            if now >= self._next_mark:
                stamp = int(now * 1000)
                _write_mark(self.url, stamp)
                self._mark, self._next_mark = (stamp, time.time()), now + MARK_EVERY_S
            return
        stamp, written = self._mark
        found = _query(self.url, f"tlast_over_time({MARK_SERIES}[1m])", fresh=True)
        if found and float(found[0]["value"][1]) * 1000 >= stamp - 0.5:
            if self.recording:
                self.db_delays.append(time.time() - written)
            self._mark = None
