"""The simulated plant serving Modbus RTU (a real `python -m simulators plant` process), the
tag maps that read its cells on one bus, and what a run wrote (for the RTU end-to-end tests
and the RTU benchmark)."""

from __future__ import annotations

import asyncio
import re
import signal
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gateway.sinks.lineprotocol import parse_line
from tests.processes import ROOT, start_simulators

CELL_TAGS = ROOT / "mappings" / "cell-tags.csv"
#: a pty refuses the parity bit when pyserial sets a port up again (see simulators/README.md),
#: so both ends of a pty line run 8N1: 10 bits a character
LINE = "baudrate=19200&parity=N"
#: the three fast tags of a cell, one read of 5 registers (the tests that need many samples)
FEW_TAGS = """\
    tags:
      - {name: cell_voltage, space: input_register, address: 0, type: float32, unit: V}
      - {name: cell_current, space: input_register, address: 2, type: int16,
         scale: {factor: 0.01}, unit: kA}
      - {name: bath_temp, space: input_register, address: 3, type: float32, byte_order: CDAB,
         unit: degC}
"""


class RtuPlant:
    """`python -m simulators plant` with Modbus RTU (cells only, no OPC UA); its stderr is
    kept and drained; `endpoints` resolves to what its start line announces."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        loop = asyncio.get_running_loop()
        self.endpoints: asyncio.Future[dict[str, str]] = loop.create_future()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str) -> RtuPlant:
        return cls(
            await start_simulators(
                *("plant", "--no-opcua", "--modbus-port", "0", "--modbus-devices", "cell??"),
                *("--modbus-rtu-parity", "N", *args),
            )
        )

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := (await self.proc.stderr.readline()).decode():
            self.lines.append(line)
            if "Plant running:" in line and not self.endpoints.done():
                found = re.findall(r"(modbus\+[a-z-]+://[^ ,]*)", line)
                self.endpoints.set_result({e.split(":")[0]: e for e in found})
        if not self.endpoints.done():
            self.endpoints.set_exception(AssertionError("the plant exited:\n" + self.log))

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def stop(self, patience: float = 10.0) -> None:
        """SIGTERM (a stop ends the plant's wait for its next step, however slow its speed),
        and SIGKILL after `patience` seconds so that a hung plant cannot hang the test."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), patience)
            except TimeoutError:
                self.proc.kill()
        await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader


def cell_map(
    path: Path,
    endpoint: str,
    units: Iterable[int] = range(1, 13),
    *,
    tags: str = "",
    extra: str = "",
    per_unit: dict[int, dict[str, Any]] | None = None,
    **fields: Any,
) -> Path:
    """A tag map of cells `units` (unit id N is cell N) on `endpoint`, with the bundled cell
    tag list (or the `tags` given), device `fields` (scan_rate 1s, timeout 200ms, retries 1
    unless given; `per_unit` overrides them for some units) and `extra` top-level sections."""
    devices = []
    for n in units:
        settings = {"scan_rate": "1s", "timeout": "200ms", "retries": 1, "max_gap": 8}
        settings |= fields | (per_unit or {}).get(n, {})
        lines = "".join(f"    {key}: {value}\n" for key, value in settings.items())
        devices.append(
            f"  - name: cell{n:02d}\n    endpoint: {endpoint}\n    unit_id: {n}\n"
            f"    measurement: cell\n{lines}" + (tags or f"    tags_csv: {CELL_TAGS}\n")
        )
    path.write_text("devices:\n" + "".join(devices) + extra)
    return path


def sinks(data: Path, health: str = "{port: 0}") -> str:
    """InfluxDB (from the environment) and a file sink under `data` (the file keeps the BAD
    samples' reasons, which the database does not store)."""
    return f"""sinks:
  precision: ms
  flush_interval: 200ms
  influxdb: {{}}
  file: {{directory: {data}}}
buffer: {{directory: {data}/buffer, commit_interval: 200ms}}
health: {health}
"""


def written(data: Path) -> list[tuple[str, dict[str, str], dict[str, Any], int]]:
    """The cells' lines the file sink under `data` wrote, parsed (not the gateway's own)."""
    text = "".join(f.read_text() for f in sorted(data.glob("*.lp")))
    return lines_of(text)


def lines_of(text: str) -> list[tuple[str, dict[str, str], dict[str, Any], int]]:
    """The line-protocol lines of `text` (the output of `gateway once`), parsed."""
    return [parse_line(line) for line in text.splitlines() if line.startswith("cell,")]


def values_by_device(parsed) -> dict[str, dict[str, Any]]:
    """device -> field -> value (the last one seen) of parsed lines, qualities left out."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for _, tags, fields, _ in parsed:
        for key, value in fields.items():
            if not key.endswith(("_quality", "_reason")):
                out[tags["device"]][key] = value
    return dict(out)


def samples(export: list[dict[str, Any]], name: str) -> dict[str, list[tuple[int, float]]]:
    """device -> [(timestamp ms, value)] of metric `name` in a VictoriaMetrics export, by time
    (a point repeated at one timestamp, as a re-sent batch is, counts once)."""
    out = {}
    for series in export:
        if series["metric"]["__name__"] == name:
            points = sorted(set(zip(series["timestamps"], series["values"], strict=True)))
            out[series["metric"]["device"]] = points
    return out
