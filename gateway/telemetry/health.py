"""A small HTTP endpoint: /healthz (alive), /readyz (every sink reachable, every durable buffer
able to persist, a device up; 503 with the reasons otherwise), /metrics (Prometheus text).
Localhost by default; GET only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from gateway.errors import GatewayError

log = logging.getLogger(__name__)

Ready = Callable[[], tuple[bool, str]]
Metrics = Callable[[], str]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HealthServer:
    """Serves the three endpoints until closed."""

    def __init__(self, host: str, port: int, ready: Ready, metrics: Metrics) -> None:
        self.host, self.port = host, port
        self.ready, self.metrics = ready, metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (port 0: a free port, then `port` tells which); GatewayError when the
        address is taken or not allowed."""
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise GatewayError(
                f"health endpoint {self.host}:{self.port}: {exc.strerror or exc} "
                "(choose another with health.port or --health-port; 0 disables it)"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "Health and metrics on http://%s:%d/ (healthz, readyz, metrics).", self.host, self.port
        )

    async def serve(self) -> None:
        """Serve until cancelled (starting first if start() was not called)."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def respond(self, method: str, path: str) -> tuple[int, str, str]:
        """(status, content type, body) for a request."""
        if method != "GET":
            return 405, "text/plain", "GET only\n"
        path = path.split("?", 1)[0]
        if path == "/healthz":
            return 200, "text/plain", "ok\n"
        if path == "/readyz":
            ok, reason = self.ready()
            return (200 if ok else 503), "text/plain", reason + "\n"
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4; charset=utf-8", self.metrics()
        return 404, "text/plain", "not found: try /healthz, /readyz or /metrics\n"

    async def answer(self, method: str, path: str) -> tuple[int, str, str]:
        """respond(), for a subclass whose answers must be awaited (the workers' endpoints)."""
        return self.respond(method, path)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, path, *_ = request.decode("latin-1").split(" ", 2)
            status, ctype, body = await self.answer(method, path)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, ctype, body = 400, "text/plain", "bad request\n"
        data = body.encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Bad Request')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + data)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
