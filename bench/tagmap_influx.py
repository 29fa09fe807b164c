"""The production variant of `bench.tagmap_scale`: `gateway run` of the large map writing to
an InfluxDB v2 write API through the SQLite buffer, with Modbus servers that answer (the
benchmark's C servers, `bench/cserver.py`), so that its memory is measured while it polls and
writes every tag, not only while it waits for a first answer.

The write API is a local HTTP listener that accepts every POST /api/v2/write with 204 and
counts the lines (the sink's request, gzip and retry code runs as against a real InfluxDB or
VictoriaMetrics; the server's own cost stays out of the gateway's process). "Start" is the
first write: every device has been polled once and its lines have gone through the buffer.
"""

from __future__ import annotations

import gzip
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import procstat
from bench.cserver import ServerSet

#: registers each C server holds: the map's tags use addresses 0..2*tags
REGISTERS = 2000


class WriteListener:
    """An InfluxDB v2 write endpoint on 127.0.0.1 that keeps nothing; the interface of
    `tagmap_scale._Listener` (`wait_first`, `reset`, `run_for`) with the first write."""

    def __init__(self, run_for: float) -> None:
        self.run_for = run_for
        self.first: float | None = None
        self.event = threading.Event()
        self.writes = 0
        self.lines = 0
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                listener.record(body.count(b"\n") + (not body.endswith(b"\n") and bool(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, lines: int) -> None:
        self.writes += 1
        self.lines += lines
        if self.first is None:
            self.first = time.monotonic()
            self.event.set()

    def reset(self) -> None:
        self.first = None
        self.event.clear()
        self.writes = self.lines = 0

    def wait_first(self, proc: subprocess.Popen[bytes], timeout: float) -> float | None:
        return self.first if procstat.wait_while_running(self.event, proc, timeout) else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sinks_of(url: str) -> str:
    """The `sinks:` of the map: InfluxDB at `url`."""
    return f"{{influxdb: {{url: {url}, token: bench, org: bench, bucket: bench}}}}"


def servers(count: int) -> ServerSet:
    """`count` answering Modbus servers, started (RuntimeError when they cannot be built)."""
    found = ServerSet(count, REGISTERS)
    found.start()
    return found
