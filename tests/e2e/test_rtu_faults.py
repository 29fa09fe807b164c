"""End to end on one serial line: a cell PLC that stops answering in the middle of a run costs
the other eleven on its line no more bus time than its own timeout budget, every scan.

`gateway run` (a real process) scans 12 cells of the simulated plant (a real process) on one
19200-baud pty line faster than the line can carry, so the line sets the sample rate; the
plant makes cell05 silent at 7 s (a scenario event). The samples per second of the healthy
cells, counted in the database, before and after, bound the cost of the silent one."""

from __future__ import annotations

import asyncio
import statistics

import pytest

from tests.e2e.counting import influx_env
from tests.e2e.rtuplant import FEW_TAGS, LINE, RtuPlant, cell_map, samples, sinks, written
from tests.processes import start_gateway

pytestmark = pytest.mark.e2e

SILENT_AT = 7  # s of plant time (speed 1)
RUN = 13  # s the gateway runs
#: the silent unit's own budget per scan: one try of 100 ms and the drain window after it
#: (busframes.drain_s: 50 ms at 19200 baud); never demoted, so it pays this every scan
TIMEOUT, DRAIN = 0.1, 0.05
BUDGET = TIMEOUT + DRAIN


def rate(points: list[tuple[int, float]], start: int, end: int) -> float:
    """GOOD samples per second with timestamps in [start, end) (ms)."""
    return sum(1 for t, q in points if start <= t < end and q == 0) * 1000 / (end - start)


async def test_a_silent_unit_costs_the_others_no_more_than_its_timeout_budget(
    victoria, tmp_path, serial_line
):
    master, device = serial_line
    data = tmp_path / "data"
    event = f"{{at: {SILENT_AT}s, modbus: {{device: cell05, silent: true}}}}"
    plant = await RtuPlant.start("--modbus-rtu", device, "--event", event)
    try:
        await asyncio.wait_for(plant.endpoints, 60)
        path = cell_map(
            tmp_path / "rtu.yaml",
            f"modbus+rtu://{master}?{LINE}",
            tags=FEW_TAGS,
            extra=sinks(data),
            scan_rate="100ms",  # 12 reads of 5 registers take longer on the line: it is the limit
            timeout="500ms",
            retries=1,
            per_unit={5: {"timeout": f"{TIMEOUT * 1000:g}ms", "retries": 0, "demote_after": 0}},
        )
        env = influx_env(victoria)
        proc = await start_gateway("run", str(path), "--duration", str(RUN), env=env)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-4000:]
    finally:
        await plant.stop()
    lines = written(data)
    expected = sum(1 for _, _, f, _ in lines if "cell_voltage_quality" in f)
    export = await victoria.wait_for_series_async(
        lambda s: sum(map(len, samples(s, "cell_cell_voltage_quality").values())) == expected, 30
    )
    quality = samples(export, "cell_cell_voltage_quality")
    assert len(quality) == 12
    silent_from = min((t for t, q in quality["cell05"] if q == 2), default=None)
    assert silent_from is not None, plant.log
    begin = max(points[0][0] for points in quality.values()) + 500  # all reading
    end = max(points[-1][0] for points in quality.values()) - 300
    assert silent_from - begin >= 2000, (begin, silent_from)
    assert end - silent_from >= 4000, (silent_from, end)

    healthy = {cell: points for cell, points in quality.items() if cell != "cell05"}
    before = {cell: rate(p, begin, silent_from - 200) for cell, p in healthy.items()}
    after = {cell: rate(p, silent_from + 1000, end) for cell, p in healthy.items()}
    # a round of the line (every cell read once) took `round_s`; the silent unit adds at
    # most its budget to every round (margin 0.7 for a loaded machine)
    round_s = 1 / statistics.median(before.values())
    assert round_s > 0.1  # the line was the limit, not the scan rate
    floor = 0.7 / (round_s + BUDGET)
    assert all(r >= floor for r in after.values()), (round_s, floor, after)
    print(f"round {round_s:.3f} s, floor {floor:.2f}/s, before {before}, after {after}")
    # the silent unit was asked every round all the same, and said nothing
    late = [(t, q) for t, q in quality["cell05"] if t >= silent_from + 1000]
    assert late
    assert {q for _, q in late} == {2}
    bad = [f for _, tags, f, t in lines if tags["device"] == "cell05" and t >= silent_from]
    assert bad
    assert all("no response" in f.get("cell_voltage_reason", "") for f in bad), bad[:3]
