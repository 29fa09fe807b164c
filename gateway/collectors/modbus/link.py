"""One Modbus TCP link: a pymodbus client plus the two things pymodbus 3.16 does not report.

- Why a connect failed. `client.connect()` only returns False (it logs the OSError at its
  own WARNING, which the gateway silences), so the error is caught on the way out of the
  transport's `call_create` and described: name resolution failed, refused, timed out,
  unreachable; always with the host and port.
- That the peer closed the connection. pymodbus notices (its `trace_connect(False)`
  callback) but leaves the pending request waiting for its timeout, and then retries it on
  the dead link: a close would cost `timeout x (retries + 1)` and look like a silent device.
  The pending request is failed at once with `LinkClosed` instead, and `on_closed` is called
  so that the owner reconnects with backoff.

And the read responses of `responses.py` in place of pymodbus's own: their `str()` is only
built for pymodbus's DEBUG log, their registers are decoded with one unpack.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
from collections.abc import Callable
from typing import Any, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException

from gateway.collectors.modbus.responses import RESPONSES

log = logging.getLogger(__name__)

CLOSED_BY_PEER = "connection closed by the peer"
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")


class Link(Protocol):
    """What a collector needs of a link (the TCP link below, the bus link of buslink.py)."""

    client: Any

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> str: ...

    async def read(self, method: str, start: int, count: int, unit: int) -> Any: ...

    def close(self) -> None: ...


class LinkClosed(ConnectionException):
    """The peer closed the connection while a request was waiting for its answer."""


def _errno_of(exc: OSError) -> int | None:
    """The error number; Python 3.11 merges the errors of several addresses of one host into
    one OSError("Multiple exceptions: [Errno 111] ...") without an errno: take the first."""
    if exc.errno is not None:
        return exc.errno
    found = _ERRNO_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def describe_connect_error(exc: BaseException | None, host: str, port: int, timeout: float) -> str:
    """What went wrong connecting to host:port, for logs and BAD reasons (pure).

    `exc` is the OSError the connect raised, or None when it timed out."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return f"name resolution failed for {where} ({exc.strerror or exc})"
    if exc is None or isinstance(exc, TimeoutError):
        return f"connection to {where} timed out after {timeout:g}s"
    if not isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc}"
    code = _errno_of(exc)
    if code == errno.ECONNREFUSED:
        return f"connection refused by {where} (nothing listens on that port)"
    if code in _UNREACHABLE:
        return f"{where} unreachable ({exc.strerror or errno.errorcode.get(code, code)})"
    return f"cannot connect to {where}: {exc.strerror or exc}"


class ModbusLink:
    """A pymodbus TCP client that says why it cannot connect and notices a closed link."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        retries: int,
        name: str,
        on_closed: Callable[[], None],
    ) -> None:
        self.host, self.port, self.timeout, self.name = host, port, timeout, name
        self._on_closed = on_closed
        self._in_flight = False
        self._connect_error: OSError | None = None
        self.client = AsyncModbusTcpClient(
            host,
            port=port,
            timeout=timeout,
            retries=retries,
            reconnect_delay=0,  # reconnecting is the collector's decision, with its backoff
            name=name,
            trace_connect=self._traced,
        )
        self.client.set_max_no_responses(2**31)  # so is closing a link nobody answers on
        for response in RESPONSES:  # see responses.py
            self.client.register(response)
        transport = self.client.ctx
        create = transport.call_create

        async def create_noting_the_error() -> Any:
            try:
                return await create()
            except OSError as exc:
                self._connect_error = exc
                raise

        transport.call_create = create_noting_the_error

    @property
    def connected(self) -> bool:
        """True while the TCP connection is open."""
        return self.client.connected

    async def connect(self) -> str:
        """Open the connection: "" when connected, else why not."""
        self._connect_error = None
        try:  # pymodbus bounds the connect by `timeout`; this bound is a safety net
            ok = await asyncio.wait_for(self.client.connect(), self.timeout + 1.0)
        except TimeoutError:
            ok = False
        if ok:
            return ""
        error = self._connect_error
        reason = describe_connect_error(error, self.host, self.port, self.timeout)
        log.debug(
            "Modbus %s: connect failed: %s (%s)",
            self.name,
            reason,
            f"{type(error).__name__} errno {error.errno}: {error}" if error else "no OSError",
        )
        return reason

    async def read(self, method: str, start: int, count: int, unit: int) -> Any:
        """One read (pymodbus method name); raises LinkClosed when the peer closes meanwhile."""
        self._in_flight = True
        try:
            return await getattr(self.client, method)(start, count=count, device_id=unit)
        finally:
            self._in_flight = False

    def close(self) -> None:
        """Close the connection (our own close never calls `on_closed`)."""
        self.client.close()

    def _traced(self, connected: bool) -> None:
        """pymodbus: the transport connected (True) or was lost (False; never on our close)."""
        if connected:
            return
        pending = getattr(self.client.ctx, "response_future", None)
        if self._in_flight and pending is not None and not pending.done():
            pending.set_exception(LinkClosed(CLOSED_BY_PEER))
        self._on_closed()
