"""A real InfluxDB 1.6 (Debian's `influxdb` package) for tests of the line-protocol encoder.

Its `/write` endpoint runs the same line-protocol parser as InfluxDB 2's `/api/v2/write`
(escapes, field types), and unlike VictoriaMetrics it answers 400 for a line it cannot parse,
so a test can prove both that a line is accepted and what was stored (through `/query`).
InfluxDB 1.6 does not accept unsigned integers (`u` suffix); InfluxDB 2 does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from simulators.ports import free_port as _free_port
from tests.processes import spawn_until_ready

BINARY = "influxd"
DATABASE = "test"


def find_binary() -> str:
    """The influxd executable, or a RuntimeError saying how to get it."""
    found = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/bin:/usr/local/bin")
    if found is None:
        raise RuntimeError(
            "influxd is not installed; run `make test`, which installs it (Debian package influxdb)"
        )
    return found


def _config(directory: Path, http_port: int, rpc_port: int) -> str:
    # Only the HTTP API on 127.0.0.1; the RPC (backup) address would default to :8088, which a
    # parallel run would collide on, so it gets a free port too. No reporting, no monitor store.
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{directory / "meta"}"

[data]
  dir = "{directory / "data"}"
  wal-dir = "{directory / "wal"}"
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""


class InfluxD:
    """One influxd process on 127.0.0.1 with a database `test`, everything under `directory`."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.log_path = self.directory / "influxd.log"
        self.binary = find_binary()
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, attempts: int = 5) -> None:
        """Start on free ports and create the database; retry if a port was taken meanwhile."""
        for _ in range(attempts):
            if self._start_once(timeout):
                self.query(f"CREATE DATABASE {DATABASE}", post=True)
                return
        raise RuntimeError(f"influxd did not start; log:\n{self.log_text()}")

    def _start_once(self, timeout: float) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = self.directory / "influxdb.conf"
        config.write_text(_config(self.directory, self.port, _free_port()))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        command = [self.binary, "-config", str(config)]
        self._proc, up = spawn_until_ready(command, self._log, self._pings, timeout)
        if not up:
            self.stop()
        return up

    def _pings(self) -> bool:
        """Up, and the process answering is ours (its command line names our config)."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:
                if resp.status != 204:
                    return False
            with urllib.request.urlopen(f"{self.url}/debug/vars", timeout=2) as resp:
                cmdline = json.loads(resp.read()).get("cmdline", [])
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return str(self.directory / "influxdb.conf") in cmdline

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> InfluxD:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- writing and reading back ------------------------------------------------------------

    def write(self, lines: list[str], precision: str = "ms") -> tuple[int, str]:
        """POST the lines to /write; (HTTP status, body). 204: every line was stored."""
        params = urllib.parse.urlencode({"db": DATABASE, "precision": precision})
        body = "\n".join(lines).encode()
        request = urllib.request.Request(f"{self.url}/write?{params}", body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def query(self, q: str, post: bool = False) -> list[dict[str, Any]]:
        """Run InfluxQL; the `series` of the first result (empty when there are none)."""
        params = {"db": DATABASE, "q": q, "epoch": "ms"}
        data = urllib.parse.urlencode(params).encode()
        if post:
            request = urllib.request.Request(f"{self.url}/query", data, method="POST")
        else:
            request = urllib.request.Request(f"{self.url}/query?{data.decode()}")
        with urllib.request.urlopen(request, timeout=10) as resp:
            result = json.loads(resp.read())["results"][0]
        if "error" in result:
            raise RuntimeError(f"influxd query {q!r}: {result['error']}")
        return list(result.get("series", []))

    def rows(self, measurement: str) -> list[dict[str, Any]]:
        """Every point of a measurement as a dict of column -> value (tags and fields)."""
        name = measurement.replace("\\", "\\\\").replace('"', '\\"')
        rows: list[dict[str, Any]] = []
        for series in self.query(f'SELECT * FROM "{name}"'):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                rows.append({k: v for k, v in row.items() if v is not None})
        return rows

    def measurements(self) -> list[str]:
        series = self.query("SHOW MEASUREMENTS")
        return [values[0] for s in series for values in s["values"]]

    def field_types(self, measurement: str) -> dict[str, str]:
        name = measurement.replace("\\", "\\\\").replace('"', '\\"')
        series = self.query(f'SHOW FIELD KEYS FROM "{name}"')
        return {key: kind for s in series for key, kind in s["values"]}
