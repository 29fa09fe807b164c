"""One bus link: a serial line (RTU or ASCII) or RTU frames over TCP, one exchange at a time.

pymodbus's clients do the framing; this link adds what a bus needs and pymodbus 3.16 does
not do:

- each request waits its own device's timeout (how long the device may take to answer) plus
  its request's and its answer's time on the wire, and is retried by its device's count
  (the client's own retries are off, so that every try below is ours);
- the 3.5-character silence after the last byte heard and the device's `pause` after each
  exchange, before the next frame goes out;
- what arrived instead of an answer (busframes.py): a frame that cannot be a valid answer
  fails the try at once rather than at the timeout;
- a late answer is never taken for another read's (bussync.py): after a failed try the unit
  is out of sync, a resync read proves it in sync again before its next read of that
  function, and complete RTU frames that are not the answer asked (a late answer of this
  unit or of a slow neighbour) are skipped and the bytes after them parsed; after a failed
  try, and after connecting, what arrives until the line is quiet for the drain window is
  dropped (the rest of a bad answer, a late answer the device server forwards);
- why the port could not be opened (missing, permission, locked, not a tty) and, over TCP,
  the same descriptions as the TCP link; a peer that closes the link fails the request at
  once.
"""

from __future__ import annotations

import asyncio
import logging
import termios
from collections.abc import Callable
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from gateway.collectors.modbus.busframes import (
    FUNCTIONS,
    answer_fault,
    drain_s,
    whole_frame,
)
from gateway.collectors.modbus.bussync import SKIP, TAKE, BusSync
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.link import CLOSED_BY_PEER, LinkClosed, describe_connect_error
from gateway.collectors.modbus.responses import RESPONSES
from gateway.collectors.modbus.serialerrors import describe_serial_error
from gateway.collectors.modbus.wiretime import read_frames_s, silence_s

log = logging.getLogger(__name__)


class NoAnswer(ModbusException):
    """No valid answer after the retries; `reason` says what arrived instead, `heard` whether
    anything did (a spoiled answer: the unit is there, the line is noisy)."""

    def __init__(self, reason: str, heard: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.heard = heard


class _BadFrame(ModbusException):
    """A try's bytes cannot become a valid answer (set on pymodbus's pending future)."""


def _mismatch(response: Any, function: int, count: int) -> str:
    """Why a valid frame is not the answer to this read (a late answer to another one of the
    same unit): another function, or another number of values; "" when it is."""
    if response.function_code & 0x7F != function:
        got = response.function_code & 0x7F
        return f"garbled answer (function {got} to a read of function {function})"
    if response.isError():
        return ""
    if function in (1, 2):
        got, want = len(response.bits), (count + 7) // 8 * 8  # whole bytes of bits
    else:
        got, want = len(response.registers), count
    return "" if got == want else f"garbled answer ({got} values to a read of {count})"


class BusLink:
    """A pymodbus serial or RTU-over-TCP client, one exchange at a time (see above)."""

    def __init__(
        self, endpoint: Endpoint, *, timeout: float, name: str, on_closed: Callable[[], None]
    ) -> None:
        self.endpoint, self.timeout, self.name = endpoint, timeout, name
        self._on_closed = on_closed
        self._silence = silence_s(endpoint)
        self._drain = drain_s(endpoint)
        self._in_flight = False
        self._heard = bytearray()  # since the current try was sent (late frames skipped)
        self._late = False  # a late answer of the unit asked was skipped in the current try
        self.sync = BusSync()  # kept over reconnects: late answers outlive a connection
        self._expect = (0, 0, 0)  # unit, function, count of the current try
        self._last_rx = 0.0  # loop time of the last byte heard
        self._ready_at = 0.0  # loop time the next frame may go out (the device's pause)
        self._connect_error: OSError | None = None
        self.client: AsyncModbusSerialClient | AsyncModbusTcpClient
        if endpoint.is_serial:
            self.client = AsyncModbusSerialClient(
                endpoint.path,
                framer=FramerType.ASCII if endpoint.framing == "ascii" else FramerType.RTU,
                baudrate=endpoint.baudrate,
                bytesize=endpoint.bytesize,
                parity=endpoint.parity,
                stopbits=endpoint.stopbits,
                timeout=timeout,
                retries=0,  # every try is ours (see read)
                reconnect_delay=0,  # reconnecting is the collector's decision
                name=name,
                trace_connect=self._traced,
            )
        else:
            self.client = AsyncModbusTcpClient(
                endpoint.host,
                port=endpoint.port,
                framer=FramerType.RTU,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
                name=name,
                trace_connect=self._traced,
            )
        self.client.set_max_no_responses(2**31)  # closing a silent link is the collector's
        for response in RESPONSES:
            self.client.register(response)
        ctx = self.client.ctx
        create, received = ctx.call_create, ctx.data_received

        async def create_noting_the_error() -> Any:
            try:
                return await create()
            except OSError as exc:  # pyserial's SerialException is an OSError too
                self._connect_error = exc
                raise
            except termios.error as exc:  # settings the port refuses (no OSError)
                code, text = (*exc.args, "")[:2] if exc.args else (None, "")
                self._connect_error = OSError(code, text or str(exc))
                raise self._connect_error from exc

        def data_received(data: bytes) -> None:
            self._last_rx = asyncio.get_running_loop().time()
            if self.endpoint.framing == "rtu":  # framed here, whole answers to pymodbus
                if self._in_flight:
                    self._heard += data
                    self._sort_frames()
                return
            if self._in_flight:
                self._heard += data
            try:
                received(data)
            except ModbusException:  # bytes pymodbus's decoder cannot make a PDU of
                ctx.recv_buffer = b""
            if self._in_flight:
                self._check_frame()

        self._received = received
        ctx.call_create = create_noting_the_error
        ctx.data_received = data_received  # type: ignore[method-assign]

    @property
    def closed_reason(self) -> str:
        """Why the link went away by itself: the port vanished, or the peer closed it."""
        if self.endpoint.is_serial:
            return f"serial port {self.endpoint.path} went away (adapter unplugged?)"
        return CLOSED_BY_PEER

    @property
    def drain_s(self) -> float:
        """The quiet the line needs after a failed try before the next frame."""
        return self._drain

    @property
    def connected(self) -> bool:
        """True while the port (or TCP connection) is open."""
        return self.client.connected

    async def connect(self) -> str:
        """Open the port or connection: "" when open, else why not."""
        self._connect_error = None
        self.client.ctx.comm_params.timeout_connect = self.timeout
        try:
            ok = await asyncio.wait_for(self.client.connect(), self.timeout + 1.0)
        except TimeoutError:
            ok = False
        if ok:
            self._last_rx = asyncio.get_running_loop().time()  # the silence before a frame
            await self._discard(self.timeout)  # and what the line still carries is dropped
            return ""
        error = self._connect_error
        if self.endpoint.is_serial:
            e = self.endpoint
            settings = f"{e.baudrate} {e.bytesize}{e.parity}{e.stopbits}"
            reason = describe_serial_error(error, e.path, settings)
        else:
            reason = describe_connect_error(
                error, self.endpoint.host, self.endpoint.port, self.timeout
            )
        log.debug("Modbus %s: connect failed: %s (%r)", self.name, reason, error)
        return reason

    def wire_s(self, function: int, count: int) -> float:
        """Seconds a read's request and answer take on the line."""
        return read_frames_s(self.endpoint, function, count)

    async def read(
        self,
        method: str,
        start: int,
        count: int,
        unit: int,
        *,
        timeout: float | None = None,
        retries: int = 0,
        pause: float = 0.0,
    ) -> Any:
        """One read (pymodbus method name), tried `retries` + 1 times, each try after a
        resync read while late answers of the unit may still come; raises NoAnswer with what
        arrived instead, LinkClosed when the peer closes meanwhile."""
        wait = self.timeout if timeout is None else timeout
        function = FUNCTIONS[method]
        reason, heard = "", False
        for _ in range(retries + 1):
            if resync := self.sync.resync_count(unit, function, count):
                response, reason, got = await self._try(method, start, resync, unit, wait, pause)
                heard = heard or got
                if response is None:
                    continue  # still out of sync: the read is not sent (one try)
            response, reason, got = await self._try(method, start, count, unit, wait, pause)
            if response is not None:
                return response
            heard = heard or got
        raise NoAnswer(reason, heard)

    async def _try(
        self, method: str, start: int, count: int, unit: int, timeout: float, pause: float
    ) -> tuple[Any, str, bool]:
        """One exchange: (the answer, "", True), or (None, why not, whether bytes came)."""
        loop = asyncio.get_running_loop()
        function = FUNCTIONS[method]
        wait = timeout + self.wire_s(function, count)
        self.client.ctx.comm_params.timeout_connect = wait  # pymodbus waits this long
        await self._quiet()
        self._heard.clear()
        self._late = False
        self._expect = (unit, function, count)
        self._in_flight = True
        try:
            response = await getattr(self.client, method)(start, count=count, device_id=unit)
        except _BadFrame as exc:
            reason = exc.string
        except LinkClosed:
            self.sync.failed(unit, function, count)
            raise
        except ModbusIOException:  # no valid answer within the wait
            reason = answer_fault(
                bytes(self._heard), unit, function, count, self.endpoint.framing, timed_out=True
            ) or self._no_response(timeout)
        else:
            reason = _mismatch(response, function, count)
            if not reason:
                self.sync.answered(unit)
                self._ready_at = loop.time() + pause
                return response, "", True
        finally:
            self._in_flight = False
        self.sync.failed(unit, function, count)
        heard = bool(self._heard)
        await self._discard(wait)
        self._ready_at = loop.time() + pause
        return None, reason, heard

    def _no_response(self, timeout: float) -> str:
        if self._late:
            return f"no response within {timeout:g}s (its late answers come: a longer timeout?)"
        return f"no response within {timeout:g}s"

    def close(self) -> None:
        """Close the port or connection (our own close never calls `on_closed`)."""
        self.client.close()

    async def _quiet(self) -> None:
        """Wait for the inter-frame silence after the last byte and the last device's pause."""
        loop = asyncio.get_running_loop()
        delay = max(self._last_rx + self._silence, self._ready_at) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _discard(self, timeout: float) -> None:
        """Drop what was received and whatever arrives until the line has been quiet for the
        drain window since the failure (at most `timeout` longer while bytes keep coming):
        a late answer, or the rest of a bad one."""
        loop = asyncio.get_running_loop()
        failed = loop.time()
        give_up = failed + timeout + self._drain
        while (now := loop.time()) < give_up:
            rest = max(self._last_rx, failed) + self._drain - now
            if rest <= 0:
                break
            await asyncio.sleep(min(rest, give_up - now))
        self.client.ctx.recv_buffer = b""

    def _sort_frames(self) -> None:
        """RTU: skip the late frames at the head of what the try heard, hand the answer to
        pymodbus, or fail the try at once when its bytes cannot become one."""
        pending = getattr(self.client.ctx, "response_future", None)
        if pending is None or pending.done():
            return
        unit, function, count = self._expect
        while frame := whole_frame(bytes(self._heard)):
            verdict = self.sync.judge(frame, unit, function, count)
            if verdict == SKIP:
                self._late = self._late or frame[0] == unit
                del self._heard[: len(frame)]
                continue
            if verdict != TAKE:
                pending.set_exception(_BadFrame(verdict))
                return
            self.client.ctx.recv_buffer = b""
            try:
                self._received(frame)
            except ModbusException:  # a frame pymodbus cannot decode: no answer
                self.client.ctx.recv_buffer = b""
            return
        self._check_frame()

    def _check_frame(self) -> None:
        """Fail the pending try at once when its bytes cannot become a valid answer."""
        pending = getattr(self.client.ctx, "response_future", None)
        if pending is None or pending.done():
            return
        unit, function, count = self._expect
        fault = answer_fault(
            bytes(self._heard), unit, function, count, self.endpoint.framing, timed_out=False
        )
        if fault:
            pending.set_exception(_BadFrame(fault))

    def _traced(self, connected: bool) -> None:
        """pymodbus: the transport connected (True) or was lost (False; never on our close)."""
        if connected:
            return
        pending = getattr(self.client.ctx, "response_future", None)
        if self._in_flight and pending is not None and not pending.done():
            pending.set_exception(LinkClosed(self.closed_reason))
        self._on_closed()
