"""Large tag maps: the CPU and memory of `gateway check` and of `gateway run` until its first
connection, for N devices x M tags written inline in YAML and through a shared CSV tag list.

    python -m bench.tagmap_scale [--devices 500] [--tags 200] [--run-for 5]

Each measurement runs in a fresh child process; its CPU-s and peak RSS come from the kernel's
accounting of that child (`os.wait4`). The baseline, in the same run, is PyYAML's C loader
(`yaml.load(..., Loader=yaml.CSafeLoader)`) reading the same files (for the CSV variant, the
YAML plus each referenced CSV file read with `csv.reader`, once per device that names it).
`run` polls a local listener that accepts connections and never answers: the time to the
first accept is the start-up, and the gateway keeps running `--run-for` seconds after it so
that its memory while polling every tag is in the peak. Printed and written to
bench/results/tagmap_scale.json; never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from bench import procstat
from bench.tagmap_influx import WriteListener, servers, sinks_of

RESULTS = Path(__file__).parent / "results" / "tagmap_scale.json"
UNITS_PER_PORT = 250  # Modbus unit ids of one connection (0..255)
TYPES = ("float32", "uint16", "int32", "float32")

_BASELINE = """
import csv, sys, yaml
data = yaml.load(open(sys.argv[1], encoding="utf-8"), Loader=yaml.CSafeLoader)
for device in data["devices"]:
    if "tags_csv" in device:
        with open(sys.argv[2] + "/" + device["tags_csv"], newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
"""


def _tag(index: int) -> dict[str, Any]:
    tag: dict[str, Any] = {
        "name": f"t{index:04d}",
        "space": "holding_register",
        "address": index * 2,
        "type": TYPES[index % len(TYPES)],
        "unit": "V",
    }
    if index % 4 == 0:
        tag["scale_factor"] = "0.1"
    return tag


def _device_head(index: int, port: int | list[int], extra: str) -> str:
    # consecutive ports from the first, or one of the given ports per UNITS_PER_PORT devices
    at = port[index // UNITS_PER_PORT] if isinstance(port, list) else port + index // UNITS_PER_PORT
    return (
        f"  - name: dev{index:04d}\n"
        f"    endpoint: modbus+tcp://127.0.0.1:{at}\n"
        f"    unit_id: {index % UNITS_PER_PORT + 1}\n"
        f"    scan_rate: 1s\n"
        f"    timeout: 1s\n"
        f'    metadata: {{site: bench, line: "{index % 10}"}}\n{extra}'
    )


def _header(folder: Path, sinks: str = "{file: {directory: out}}", buffer: str = "memory") -> str:
    return f"sinks: {sinks}\nbuffer: {{type: {buffer}, directory: {folder / 'buffer'}}}\ndevices:\n"


def write_maps(
    folder: Path,
    devices: int,
    tags: int,
    port: int | list[int],
    sinks: str = "{file: {directory: out}}",
    buffer: str = "memory",
) -> dict[str, Path]:
    """The inline YAML map and the CSV variant, in their own subfolders of `folder`."""
    inline, shared = folder / "inline", folder / "csv"
    inline.mkdir()
    shared.mkdir()
    rows = [_tag(i) for i in range(tags)]
    parts = [_header(inline, sinks, buffer)]
    for d in range(devices):
        lines = []
        for tag in rows:
            scale = tag.get("scale_factor")
            body = {k: v for k, v in tag.items() if k != "scale_factor"}
            lines.append("      - " + "\n        ".join(f"{k}: {v}" for k, v in body.items()))
            if scale:
                lines.append(f"        scale: {{factor: {scale}}}")
        parts.append(_device_head(d, port, "    tags:\n" + "\n".join(lines) + "\n"))
    (inline / "plant.yaml").write_text("".join(parts), encoding="utf-8")
    columns = ["name", "space", "address", "type", "unit", "scale_factor"]
    csv_lines = [",".join(columns)] + [",".join(str(t.get(c, "")) for c in columns) for t in rows]
    (shared / "tags.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    heads = [_device_head(d, port, "    tags_csv: tags.csv\n") for d in range(devices)]
    (shared / "plant.yaml").write_text(
        _header(shared, sinks, buffer) + "".join(heads), encoding="utf-8"
    )
    return {"yaml": inline, "csv": shared}


def measure(
    argv: list[str], cwd: Path, until_accept: _Listener | WriteListener | None = None
) -> dict[str, Any]:
    """Run `argv` to its end (or, for `run`, `run_for` s past the first accept) and return its
    wall time, CPU-s and peak RSS from the kernel's accounting of the child."""
    with tempfile.TemporaryFile() as log:  # a pipe could fill up with the log and stall it
        return _measure(argv, cwd, until_accept, log)


def _measure(
    argv: list[str], cwd: Path, until_accept: _Listener | WriteListener | None, log: IO[bytes]
) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log)
    result: dict[str, Any] = {}
    if until_accept is not None:
        accepted = until_accept.wait_first(proc, timeout=900.0)
        if accepted is not None:
            result["first_connection_s"] = round(accepted - started, 3)
            result.update(_now(proc.pid))
        time.sleep(until_accept.run_for if accepted is not None else 0)
        if accepted is not None and proc.poll() is None:
            result["end_rss_mb"] = _rss(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result.update(
        wall_s=round(time.monotonic() - started, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        exit=proc.returncode,
    )
    if proc.returncode != 0:
        log.seek(0)
        result["stderr"] = log.read().decode(errors="replace")[-2000:]
    return result


def _now(pid: int) -> dict[str, Any]:
    """CPU-s and peak RSS of a running process so far (at its first connection)."""
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as stream:
        hwm = next(line for line in stream if line.startswith("VmHWM:"))
    return {"start_cpu_s": round(cpu, 3), "start_peak_rss_mb": round(int(hwm.split()[1]) / 1024, 1)}


def _rss(pid: int) -> float:
    """The resident memory of a running process now, MB (the steady figure after start)."""
    with open(f"/proc/{pid}/status") as stream:
        rss = next(line for line in stream if line.startswith("VmRSS:"))
    return round(int(rss.split()[1]) / 1024, 1)


class _Listener:
    """Local ports that accept connections, never answer, and record the first accept."""

    def __init__(self, ports: int, run_for: float) -> None:
        self.run_for = run_for
        self.sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(ports)]
        first = self.sockets[0].getsockname()[1]
        # the map needs consecutive ports: take them from the first one the kernel gave
        for sock in self.sockets[1:]:
            sock.close()
        self.sockets = [self.sockets[0]] + [
            socket.create_server(("127.0.0.1", first + i)) for i in range(1, ports)
        ]
        self.port = first
        self.first: float | None = None
        self.event = threading.Event()
        self.held: list[socket.socket] = []
        for sock in self.sockets:
            threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            if self.first is None:
                self.first = time.monotonic()
                self.event.set()
            self.held.append(conn)

    def reset(self) -> None:
        for conn in self.held:
            conn.close()
        self.held.clear()
        self.first = None
        self.event.clear()

    def wait_first(self, proc: subprocess.Popen[bytes], timeout: float) -> float | None:
        """The time of the first accept, None when `proc` ended (or `timeout`) before."""
        return self.first if procstat.wait_while_running(self.event, proc, timeout) else None


def run_all(devices: int, tags: int, run_for: float, sink: str = "both") -> dict[str, Any]:
    python = sys.executable
    ports = -(-devices // UNITS_PER_PORT)
    listener = _Listener(ports, run_for)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tagmap-scale-") as tmp:
        maps = write_maps(Path(tmp), devices, tags, listener.port)
        for variant, folder in maps.items():
            plant = str(folder / "plant.yaml")
            entry: dict[str, Any] = {}
            entry["c_loader"] = measure([python, "-c", _BASELINE, plant, str(folder)], folder)
            entry["check"] = measure([python, "-m", "gateway", "check", plant], folder)
            listener.reset()
            run = [python, "-m", "gateway", "run", plant, "--health-port", "0"]
            entry["run"] = measure(run, folder, listener)
            base = entry["c_loader"]["cpu_s"] or 1e-9
            entry["check_vs_c_loader"] = round(entry["check"]["cpu_s"] / base, 2)
            if "start_cpu_s" in entry["run"]:
                entry["run_start_vs_c_loader"] = round(entry["run"]["start_cpu_s"] / base, 2)
            results[variant] = entry
        if sink in ("influxdb", "both"):
            _run_influxdb(results, Path(tmp) / "influxdb", devices, tags, run_for)
    if sink == "influxdb":  # the file-sink runs were not asked for: keep the loader and check
        for entry in results.values():
            entry.pop("run", None)
            entry.pop("run_start_vs_c_loader", None)
    return results


def _run_influxdb(
    results: dict[str, Any], folder: Path, devices: int, tags: int, run_for: float
) -> None:
    """`run` with the InfluxDB sink, the SQLite buffer and answering servers, per variant."""
    folder.mkdir()
    ports = -(-devices // UNITS_PER_PORT)
    writes = WriteListener(run_for)
    try:
        with servers(ports) as modbus:
            maps = write_maps(folder, devices, tags, modbus.ports, sinks_of(writes.url), "sqlite")
            for variant, where in maps.items():
                writes.reset()
                argv = [sys.executable, "-m", "gateway", "run", str(where / "plant.yaml")]
                entry = measure([*argv, "--health-port", "0"], where, writes)
                entry.update(lines_written=writes.lines, writes=writes.writes)
                results[variant]["run_influxdb"] = entry
    finally:
        writes.close()


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as stream:
            model = next(
                ln.split(":", 1)[1].strip() for ln in stream if ln.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count()}


def revision() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def report(results: dict[str, Any]) -> list[str]:
    lines = []
    for variant, entry in results.items():
        if not isinstance(entry, dict) or "c_loader" not in entry:
            continue
        base, check = entry["c_loader"], entry["check"]
        line = (
            f"{variant}: C loader {base['cpu_s']} CPU-s {base['peak_rss_mb']} MB | "
            f"check {check['cpu_s']} CPU-s {check['peak_rss_mb']} MB "
            f"({entry['check_vs_c_loader']}x)"
        )
        if "run" in entry:
            run = entry["run"]
            line += (
                f" | run: first connection after {run.get('first_connection_s')} s, "
                f"{run.get('start_cpu_s')} CPU-s ({entry.get('run_start_vs_c_loader')}x), "
                f"peak {run['peak_rss_mb']} MB"
            )
        if "run_influxdb" in entry:
            run = entry["run_influxdb"]
            line += (
                f" | run to InfluxDB: first write after {run.get('first_connection_s')} s, "
                f"{run.get('start_cpu_s')} CPU-s, {run.get('start_peak_rss_mb')} MB then, "
                f"{run.get('end_rss_mb')} MB at the end, peak {run['peak_rss_mb']} MB, "
                f"{run['lines_written']} lines"
            )
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.tagmap_scale")
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--tags", type=int, default=200, help="tags per device")
    parser.add_argument("--run-for", type=float, default=5.0, help="s of polling after start")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON results file")
    parser.add_argument(
        "--sink",
        choices=("file", "influxdb", "both"),
        default="both",
        help="run with a file sink and silent servers, with InfluxDB and answering ones, or both",
    )
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "revision": revision(),
        "machine": machine(),
        "devices": args.devices,
        "tags_per_device": args.tags,
        **run_all(args.devices, args.tags, args.run_for, args.sink),
    }
    for line in report(results):
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
