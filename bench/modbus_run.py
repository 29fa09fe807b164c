"""One measured run of the Modbus benchmark: the real `gateway run` as its own process (or the
floor client) against the C servers, measured from outside over a window after a warm-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import dbprobe, procstat
from bench.modbus_map import Scenario, device_name, write_tagmap

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0  # loading and compiling a large tag map takes a while


@dataclass(frozen=True)
class Window:
    warmup: float
    seconds: float


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def gateway_command(tagmap: Path, workers: int | None) -> list[str]:
    command = [sys.executable, "-m", "gateway", "--log-level", "WARNING", "run", str(tagmap)]
    if workers is not None:  # `gateway run --workers N` shards the connections over processes
        command += ["--workers", str(workers)]
    return command


def _wait_for_data(proc: subprocess.Popen[bytes], probe: dbprobe.LatencyProbe, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not probe.seen():
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no data in the database after {START_TIMEOUT_S:g} s:\n{_tail(log)}"
            )
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes], log: Path) -> int:
    proc.send_signal(signal.SIGTERM)  # the gateway drains its buffer into the database
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"gateway did not stop within 60 s:\n{_tail(log)}") from None


def run_gateway(
    scenario: Scenario,
    endpoints: list[str],
    db_url: str,
    folder: Path,
    window: Window,
    workers: int | None = None,
) -> dict[str, Any]:
    """The gateway's figures over the window, from its /proc accounting and the database."""
    tagmap = write_tagmap(folder, scenario, endpoints, db_url)
    log = folder / "gateway.log"
    probe = dbprobe.LatencyProbe(db_url)
    probe.start()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            gateway_command(tagmap, workers), cwd=folder, env=_env(), stdout=out, stderr=out
        )
    try:
        _wait_for_data(proc, probe, log)
        time.sleep(window.warmup)
        start, cpu0 = time.time(), procstat.cpu_seconds(proc.pid)
        probe.recording = True
        time.sleep(window.seconds)
        end, cpu1 = time.time(), procstat.cpu_seconds(proc.pid)
        probe.recording = False
        rss = procstat.peak_rss_bytes(proc.pid)
        code = _stop(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        probe.stop()
    counted = dbprobe.count_samples(db_url, start, end)
    times = dbprobe.scan_times(db_url, start, end)
    endpoint_of = {device_name(n): n % len(endpoints) for n in range(scenario.devices)}
    jitter = dbprobe.lateness_ms(times, {d: i for i, d in enumerate(times)}, scenario.interval)
    late = dbprobe.lateness_ms(times, endpoint_of, scenario.interval)
    wall, cpu = end - start, cpu1 - cpu0
    scans = sum(len(t) for t in times.values())
    return {
        "exit_code": code,
        "window_s": round(wall, 3),
        "samples_counted": counted,
        "samples_per_s": counted / wall,
        "offered_per_s": scenario.offered,
        "delivered_fraction": counted / (scenario.offered * wall),
        "cpu_s": cpu,
        "cpu_cores": cpu / wall,
        "cpu_s_per_million": cpu / counted * 1e6 if counted else None,
        "scans_counted": scans,
        "cpu_ms_per_scan": cpu / scans * 1e3 if scans else None,
        "peak_rss_mb": rss / 2**20,
        "jitter_p50_ms": dbprobe.percentile(jitter, 50),
        "jitter_p99_ms": dbprobe.percentile(jitter, 99),
        "jitter_max_ms": max(jitter, default=float("nan")),
        "lateness_vs_connection_p50_ms": dbprobe.percentile(late, 50),
        "lateness_vs_connection_p99_ms": dbprobe.percentile(late, 99),
        "latency_p50_s": dbprobe.percentile(probe.latencies, 50),
        "latency_p99_s": dbprobe.percentile(probe.latencies, 99),
        "latency_observations": len(probe.latencies),
        "latency_shifted_p50_s": dbprobe.percentile(probe.shifted, 50),
        "latency_shifted_p99_s": dbprobe.percentile(probe.shifted, 99),
        "db_delay_p50_s": dbprobe.percentile(probe.db_delays, 50),
        "db_delay_p99_s": dbprobe.percentile(probe.db_delays, 99),
    }


def run_floor(tagmap: Path, window: Window, back_to_back: bool) -> dict[str, Any]:
    """The bare pymodbus client's figures (its own process, its own CPU accounting)."""
    command = [sys.executable, "-m", "bench.modbus_floor", str(tagmap)]
    command += ["--warmup", str(window.warmup), "--seconds", str(window.seconds)]
    if back_to_back:
        command.append("--back-to-back")
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"floor client failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    samples, scans, wall = found["samples"], found["scans"], found["wall_s"]
    return {
        **found,
        "samples_per_s": samples / wall,
        "cpu_cores": found["cpu_s"] / wall,
        "cpu_s_per_million": found["cpu_s"] / samples * 1e6 if samples else None,
        "cpu_ms_per_scan": found["cpu_s"] / scans * 1e3 if scans else None,
    }
