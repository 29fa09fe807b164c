"""End to end with both protocols: `gateway run` with the bundled maps against the simulated
plant (`python -m simulators plant`, a real process) writes the cells' Modbus series and the
feeders' and rectifier's OPC UA series into a real VictoriaMetrics; an OPC UA server restart
leaves a gap of the outage only, marked by BAD samples, and data resumes by itself."""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.counting import influx_env
from tests.processes import start_gateway, start_simulators

pytestmark = pytest.mark.e2e

RESTART_AT, OUTAGE = 20, 5  # simulated = wall seconds (speed 1)
OPCUA_DEVICES = {"rectifier", *(f"cell{n:02d}_feeder" for n in range(1, 13))}
#: the reconnect after the outage: asyncua's session set-up and the supervisor's backoff (1, 2,
#: 4 s while the server is down) come on top of it; generous for a loaded machine
RECONNECT_BOUND = 20
#: OPC UA samples carry the PLC's source timestamps, the plant's clock, which runs up to one
#: step (1 s) ahead of the wall clock a BAD sample is stamped with by the gateway
LEAD = 1000
#: (and a step behind when the plant runner is late on a loaded machine: the lower bounds of
#: the outage allow 2 s for both)


class Plant:
    """`python -m simulators plant` on free ports; its stderr is kept (and drained)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.ports: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str) -> Plant:
        return cls(
            await start_simulators("plant", "--modbus-port", "0", "--opcua-port", "0", *args)
        )

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := (await self.proc.stderr.readline()).decode():
            self.lines.append(line)
            found = re.search(r"modbus\+tcp://[^:]+:(\d+), OPC UA opc\.tcp://[^:]+:(\d+)", line)
            if found and not self.ports.done():
                self.ports.set_result({"modbus": int(found[1]), "opcua": int(found[2])})
        if not self.ports.done():
            self.ports.set_exception(AssertionError("the plant exited:\n" + "".join(self.lines)))

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader


def series_of(export: list[dict[str, Any]], name: str) -> dict[str, list[tuple[int, float]]]:
    """device -> [(timestamp ms, value)] of metric `name`, by time."""
    out = {}
    for s in export:
        if s["metric"]["__name__"] == name:
            points = sorted(zip(s["timestamps"], s["values"], strict=True))
            out[s["metric"]["device"]] = points
    return out


def resumed(export: list[dict[str, Any]]) -> bool:
    """Every OPC UA device has a BAD sample and GOOD ones after it (on its alarm word: every
    tag gets one notification when its subscription is made again, changed or not)."""
    words = {
        **series_of(export, "rectifier_alarms_quality"),
        **series_of(export, "feeder_alarms_quality"),
    }
    if set(words) != OPCUA_DEVICES or not all(map(_good_after_bad, words.values())):
        return False
    # and the values the test checks below, which can trail the words on a loaded machine
    return all(
        any(q == 0 and t > first_bad(points) + LEAD for t, q in points)
        for name in CHECKED
        for points in series_of(export, f"{name}_quality").values()
    )


CHECKED = ("rectifier_line_current", "feeder_hopper_weight", "feeder_alarms")


def first_bad(points: list[tuple[int, float]]) -> int:
    return min((t for t, q in points if q == 2), default=points[-1][0])


def _good_after_bad(points: list[tuple[int, float]]) -> bool:
    bad = [t for t, q in points if q == 2]
    return bool(bad) and points[-1][1] == 0 and points[-1][0] > bad[-1] + LEAD


def quality_runs(points: list[tuple[int, float]]) -> list[float]:
    """The qualities with repeats collapsed: [0, 2, 0] is GOOD, then BAD, then GOOD again."""
    runs: list[float] = []
    for _, quality in points:
        if not runs or runs[-1] != quality:
            runs.append(quality)
    return runs


async def wait_for(victoria, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float):
    return await victoria.wait_for_series_async(predicate, timeout)


async def test_both_protocols_into_victoria_and_an_opcua_restart_leaves_only_the_outage(
    victoria, tmp_path
):
    plant = await Plant.start("--event", f"{{at: {RESTART_AT}s, opcua: {{restart: {OUTAGE}s}}}}")
    gateway = None
    try:
        ports = await asyncio.wait_for(plant.ports, 60)
        buffer = tmp_path / "buffer.yaml"  # the bundled maps have no buffer section
        buffer.write_text(f"buffer: {{directory: {tmp_path / 'buffer'}}}\n")
        env = {
            **influx_env(victoria),
            "PLANT_HOST": "127.0.0.1",
            "PLANT_MODBUS_PORT": str(ports["modbus"]),
            "PLANT_OPCUA_PORT": str(ports["opcua"]),
        }
        gateway = await start_gateway("run", "mappings", str(buffer), "--health-port", "0", env=env)
        export = await wait_for(victoria, resumed, RESTART_AT + OUTAGE + RECONNECT_BOUND + 60)
        gateway.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(gateway.communicate(), 60)
        assert gateway.returncode == 0, err.decode()[-4000:]
    finally:
        if gateway is not None and gateway.returncode is None:
            gateway.kill()
            await gateway.wait()
        await plant.stop()
    export = await wait_for(victoria, resumed, 30)  # the drained lines visible too
    log = err.decode()

    cells = series_of(export, "cell_bath_temp_quality")
    assert set(cells) == {f"cell{n:02d}" for n in range(1, 13)}
    # OPC UA: every feeder and the rectifier, the same fields as over Modbus
    assert set(series_of(export, "feeder_hopper_weight")) == OPCUA_DEVICES - {"rectifier"}
    assert set(series_of(export, "rectifier_line_current")) == {"rectifier"}

    bad_times, resumes = [], []
    for name in CHECKED:
        for device, qualities in series_of(export, f"{name}_quality").items():
            bad = [t for t, q in qualities if q == 2]
            good = [t for t, q in qualities if q == 0]
            assert bad, (name, device, qualities)  # the loss is marked
            assert good[0] < bad[0], (name, device, qualities)  # after GOOD samples
            # GOOD again after the outage, and nothing BAD after that
            resume = min(t for t in good if t > bad[0] + LEAD)
            assert bad[-1] < resume, (name, device, qualities)
            assert (OUTAGE - 2) * 1000 <= resume - bad[0] <= (OUTAGE + RECONNECT_BOUND) * 1000
            # a BAD sample carries no value, and none is invented for the outage
            values = [t for t, _ in series_of(export, name)[device]]
            assert not [t for t in values if bad[0] + LEAD < t < resume], (name, device)
            bad_times += bad
            resumes.append(resume)
    # the BAD samples mark one episode, the restart (not, say, a reconnect storm afterwards)
    assert max(bad_times) - min(bad_times) <= RECONNECT_BOUND * 1000

    # Modbus: every cell unaffected by the OPC UA restart. Not "GOOD throughout": on a loaded
    # machine a cell's read can time out once at any moment, which says nothing about the
    # restart. What the restart must not do: every cell keeps being read GOOD while the OPC UA
    # server is down (from the first loss marker to the first OPC UA resume, when the server
    # is back), no cell is BAD in that window, and every cell ends GOOD.
    outage_start, outage_end = min(bad_times) - LEAD, min(resumes)
    for cell, points in cells.items():
        inside = [q for t, q in points if outage_start <= t <= outage_end]
        assert 0 in inside, (cell, inside, log[-4000:])
        assert 2 not in inside, (cell, inside, log[-4000:])
        assert points[-1][1] == 0, (cell, quality_runs(points), log[-4000:])

    # the rectifier's line current changes every second: its series has the outage's gap
    # (the BAD samples inside) and no other
    current = [t for t, _ in series_of(export, "rectifier_line_current")["rectifier"]]
    gaps = sorted((b - a, a, b) for a, b in itertools.pairwise(current))
    outage, start, end = gaps[-1]
    assert (OUTAGE - 2) * 1000 <= outage <= (OUTAGE + RECONNECT_BOUND) * 1000, gaps[-3:]
    assert all(start - LEAD < t < end for t in bad_times), (start, end, sorted(set(bad_times)))
    assert gaps[-2][0] <= 5000, gaps[-3:]  # nothing else missing (1 s apart; a loaded machine)
