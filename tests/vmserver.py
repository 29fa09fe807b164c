"""A real VictoriaMetrics for tests: it speaks the InfluxDB v2 write API on /api/v2/write.

What it does with line protocol: each field becomes the metric ``<measurement>_<field>`` with
the line's tags as labels; timestamps are kept in milliseconds; bools become 1/0 and string
fields 0. It answers 204 even for malformed lines (it skips them), so it cannot be used to
test 400 answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from simulators.ports import free_port as _free_port
from tests.processes import spawn_until_ready

BINARY = "victoria-metrics"
ALL_SERIES = '{__name__=~".+"}'

Series = list[dict[str, Any]]


def find_binary() -> str:
    """The victoria-metrics executable, or a RuntimeError saying how to get it."""
    found = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/bin:/usr/local/bin")
    if found is None:
        raise RuntimeError(
            "victoria-metrics is not installed; run `make test`, which installs it "
            "(Debian package victoria-metrics)"
        )
    return found


class VictoriaMetrics:
    """One victoria-metrics process on 127.0.0.1, its data and log under `directory`."""

    def __init__(self, directory: str | os.PathLike[str], port: int | None = None) -> None:
        self.directory = Path(directory)
        self.data_dir = self.directory / "vmdata"
        self.log_path = self.directory / "victoria-metrics.log"
        self.binary = find_binary()
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("VictoriaMetrics has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0, attempts: int = 5) -> None:
        """Start and wait until /health answers OK; retry on a fresh port if ours was taken."""
        if self.running:
            return
        fixed_port = self._port is not None
        for attempt in range(1, attempts + 1):
            if not fixed_port:
                self._port = _free_port()
            if self._start_once(timeout):
                return
            if fixed_port or attempt == attempts or not self._port_taken():
                break
        raise RuntimeError(
            f"victoria-metrics did not start on port {self._port}; log:\n{self.log_text()}"
        )

    def _start_once(self, timeout: float) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_offset = self._log.tell()
        command = [
            self.binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.data_dir}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]
        self._proc, up = spawn_until_ready(command, self._log, self._is_ours, timeout)
        if not up:
            if self._proc.poll() is not None:
                self._cleanup()
            else:
                self.stop()
        return up

    def _is_ours(self) -> bool:
        """Healthy, and the process answering is ours (not another one that took the port)."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as resp:
                if resp.read().strip() != b"OK":
                    return False
            with urllib.request.urlopen(f"{self.url}/metrics", timeout=2) as resp:
                metrics = resp.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError):
            return False
        return f'name="storageDataPath", value="{self.data_dir}"' in metrics

    def _port_taken(self) -> bool:
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return b"address already in use" in log.read()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate (SIGTERM: VictoriaMetrics flushes its data), kill if it takes too long."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        port = self.port
        if not self._start_once(timeout):
            raise RuntimeError(
                f"victoria-metrics did not restart on port {port}; log:\n{self.log_text()}"
            )

    def __enter__(self) -> VictoriaMetrics:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- reading data back -------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str] | None = None) -> bytes:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
            return resp.read()

    def export(self, match: str = ALL_SERIES) -> Series:
        """Every stored series matching `match` (after a flush), as
        ``{"metric": {"__name__": ..., labels...}, "values": [...], "timestamps": [ms...]}``.
        """
        self._get("/internal/force_flush")
        body = self._get("/api/v1/export", {"match[]": match})
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]

    def wait_for_series(
        self,
        predicate: Callable[[Series], bool],
        timeout: float = 10.0,
        match: str = ALL_SERIES,
    ) -> Series:
        """Poll export until `predicate` holds (data becomes visible after ~1-2 s)."""
        deadline = time.monotonic() + timeout
        while True:
            series = self.export(match)
            if predicate(series):
                return series
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"victoria-metrics: condition not met within {timeout}s; last export:\n"
                    + "\n".join(json.dumps(s, sort_keys=True) for s in series)
                )
            time.sleep(0.1)  # polling an external process

    async def wait_for_series_async(
        self,
        predicate: Callable[[Series], bool],
        timeout: float = 10.0,
        match: str = ALL_SERIES,
    ) -> Series:
        """Like wait_for_series, without blocking the event loop (for in-process pipelines)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            series = await asyncio.to_thread(self.export, match)
            if predicate(series):
                return series
            if loop.time() >= deadline:
                raise AssertionError(
                    f"victoria-metrics: condition not met within {timeout}s; last export:\n"
                    + "\n".join(json.dumps(s, sort_keys=True) for s in series)
                )
            await asyncio.sleep(0.1)  # polling an external process


def by_name(series: Series) -> dict[str, dict[str, Any]]:
    """Index an export by metric name (for series with unique names)."""
    return {s["metric"]["__name__"]: s for s in series}
