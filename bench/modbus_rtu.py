"""Modbus RTU on one serial line: the simulated plant serving its cell PLCs on one end of a
socat pty pair paced at the line's speed -> `gateway run` (its own process) on the other end
-> a real VictoriaMetrics. The scans ask more than the line can carry, so the line is the
limit; samples/s counted in the database over a window, against the theoretical limit of
those requests.

    python -m bench.modbus_rtu                     12 units x 25 registers, 19200 baud 8N1
    python -m bench.modbus_rtu --units 4 --registers 8 --baud 9600

Options: --units (1..12) --registers (1..25, one uint16 tag each, one read per unit)
--baud --turnaround --rate --seconds --warmup. Results: printed, and appended to
bench/results/modbus_rtu.jsonl (bench/results.py). How the figures are made: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench import results
from gateway.collectors import registry
from gateway.collectors.modbus import wiretime
from gateway.collectors.modbus.compile import ConnectionPlan
from gateway.config import load_tagmaps
from tests.serialpair import pty_pair
from tests.vmserver import VictoriaMetrics

ROOT = Path(__file__).resolve().parents[1]
VALUES = '{__name__=~"rtu_r[0-9]+"}'  # the value series (not the `_quality` ones)
MAX_REGISTERS = 25  # the cell's input registers 0..24 (simulators/registermap.py)
START_TIMEOUT_S = 60.0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.modbus_rtu", description=__doc__)
    parser.add_argument("--units", type=int, default=12, help="cell PLCs on the line (1..12)")
    parser.add_argument("--registers", type=int, default=25, help="read per unit (1..25)")
    parser.add_argument("--baud", type=int, default=19200)
    parser.add_argument("--turnaround", type=float, default=0.001, help="the PLCs' think time")
    parser.add_argument("--rate", type=float, default=0.1, help="scan interval of every unit")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="after the first data")
    args = parser.parse_args(argv)
    if not 1 <= args.units <= 12:
        parser.error("--units must be 1..12 (the plant's cells)")
    if not 1 <= args.registers <= MAX_REGISTERS:
        parser.error(f"--registers must be 1..{MAX_REGISTERS} (a cell's input registers)")
    return args


def write_tagmap(path: Path, line: str, args: argparse.Namespace, db_url: str, data: Path) -> Path:
    """Units 1..N on `line`, each one read of registers 0..R-1 as uint16 tags r0.., into the
    database (InfluxDB v2 write API) through the SQLite buffer."""
    tags = "".join(
        f"      - {{name: r{i}, space: input_register, address: {i}, type: uint16}}\n"
        for i in range(args.registers)
    )
    devices = "".join(
        f"""  - name: cell{n:02d}
    endpoint: {line}
    unit_id: {n}
    measurement: rtu
    scan_rate: {args.rate:g}s
    timeout: 1s
    retries: 0
    turnaround: {args.turnaround * 1000:g}ms
    tags:
{tags}"""
        for n in range(1, args.units + 1)
    )
    path.write_text(
        f"""devices:
{devices}sinks:
  precision: ms
  influxdb: {{url: "{db_url}", token: bench, org: bench, bucket: bench}}
buffer: {{directory: {data}}}
health: {{port: 0}}
"""
    )
    return path


def line_limits(tagmap: Path) -> dict[str, Any]:
    """From the gateway's own plan of the tag map: values per round (every unit read once),
    and the seconds a round takes on the wire: the frames' characters only, and with the
    3.5-character silences and the turnaround (wiretime.py)."""
    (plan,) = registry.compile_all(load_tagmaps([str(tagmap)]).devices)
    assert isinstance(plan, ConnectionPlan)
    endpoint, char = plan.endpoint, wiretime.char_time_s(plan.endpoint)
    values, frames, full = 0, 0.0, 0.0
    for scan in plan.scans:
        for request in scan.requests:
            sent, received = wiretime.exchange_bytes(request, endpoint.framing)
            frames += (sent + received) * char
            values += len(request.spans)  # one tag each here
        full += wiretime.scan_wire_s(endpoint, scan, scan.turnaround_s)
    return {
        "values_per_round": values,
        "frames_s_per_round": frames,
        "wire_s_per_round": full,
        "limit_frames_per_s": values / frames,
        "limit_wire_per_s": values / full,
    }


def _get(url: str, path: str, params: dict[str, str]) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=30) as resp:
        return json.loads(resp.read())


def counted(db_url: str, start: float, end: float) -> dict[str, int]:
    """Device -> values stored with a timestamp in (start, end] (wall seconds)."""
    with urllib.request.urlopen(f"{db_url}/internal/force_flush", timeout=30):
        pass
    window = f"{round((end - start) * 1000)}ms"
    promql = f"sum by (device) (count_over_time({VALUES}[{window}]))"
    body = _get(db_url, "/api/v1/query", {"query": promql, "time": f"{end:.3f}"})
    return {r["metric"]["device"]: int(float(r["value"][1])) for r in body["data"]["result"]}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-20:])


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def start_plant(device: str, args: argparse.Namespace, log: Path) -> subprocess.Popen[bytes]:
    """The plant's cells on `device` (8N1: a pty refuses parity, see simulators/README.md)."""
    command = [sys.executable, "-m", "simulators", "plant", "--no-opcua", "--modbus-port", "0"]
    command += ["--cells", str(args.units), "--modbus-devices", "cell??", "--modbus-rtu", device]
    command += ["--modbus-rtu-baud", str(args.baud), "--modbus-rtu-parity", "N"]
    command += ["--modbus-rtu-turnaround", f"{args.turnaround * 1000:g}ms"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=out, stderr=out)
    deadline = time.monotonic() + START_TIMEOUT_S
    while "Plant running" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"the plant did not start:\n{_tail(log)}")
        time.sleep(0.1)
    return proc


def measure(args: argparse.Namespace, folder: Path, db: VictoriaMetrics) -> dict[str, Any]:
    with pty_pair(folder) as (master, device):
        line = f"modbus+rtu://{master}?baudrate={args.baud}&parity=N"
        tagmap = write_tagmap(folder / "rtu.yaml", line, args, db.url, folder / "buffer")
        limits = line_limits(tagmap)
        plant = start_plant(device, args, folder / "plant.log")
        log = folder / "gateway.log"
        try:
            with log.open("wb") as out:
                command = [sys.executable, "-m", "gateway", "--log-level", "ERROR", "run"]
                gateway = subprocess.Popen(
                    [*command, str(tagmap)], cwd=ROOT, env=_env(), stdout=out, stderr=out
                )
            try:
                deadline = time.monotonic() + START_TIMEOUT_S
                while not counted(db.url, time.time() - 60, time.time()):
                    if gateway.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"no data in the database:\n{_tail(log)}")
                    time.sleep(0.2)
                time.sleep(args.warmup)
                start = time.time()
                time.sleep(args.seconds)
                end = time.time()
            finally:
                code = _stop(gateway)  # SIGTERM: it drains its buffer into the database
        finally:
            _stop(plant)
        per_unit = counted(db.url, start, end)
    wall = end - start
    samples = sum(per_unit.values())
    rate = samples / wall
    return {
        "scenario": {
            "units": args.units,
            "registers": args.registers,
            "baud": args.baud,
            "framing": "8N1 RTU",
            "turnaround_s": args.turnaround,
            "scan_interval_s": args.rate,
        },
        "exit_code": code,
        "window_s": round(wall, 3),
        "samples_counted": samples,
        "samples_per_s": rate,
        **limits,
        "ratio_vs_frames": rate / limits["limit_frames_per_s"],
        "ratio_vs_wire": rate / limits["limit_wire_per_s"],
        "unit_min_max": min(per_unit.values(), default=0) / max(per_unit.values(), default=1),
        "units_counted": len(per_unit),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="bench-rtu-") as tmp:
        folder = Path(tmp)
        with VictoriaMetrics(folder / "victoria-metrics") as db:
            figures = measure(args, folder, db)
    s = figures["scenario"]
    print(
        f"{s['units']} units x {s['registers']} registers on one {s['baud']}-baud line: "
        f"{figures['samples_per_s']:.1f} samples/s in the database over {figures['window_s']:g} s"
    )
    print(
        f"limit, frames' bytes on the wire: {figures['limit_frames_per_s']:.1f} samples/s "
        f"-> ratio {figures['ratio_vs_frames']:.3f} (target >= 0.8)"
    )
    print(
        f"limit with 3.5-char silences and {s['turnaround_s'] * 1000:g} ms turnaround: "
        f"{figures['limit_wire_per_s']:.1f} samples/s -> ratio {figures['ratio_vs_wire']:.3f}"
    )
    print(f"fairness: fewest / most samples of a unit {figures['unit_min_max']:.3f}")
    results.write("modbus_rtu", figures)
    return 0 if figures["exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
