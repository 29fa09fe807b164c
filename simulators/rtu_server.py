"""Modbus RTU faces of the simulated PLC: serial lines (e.g. one end of a socat pty pair) and
RTU framing over TCP (a serial device server), over the same RegisterBank as Modbus TCP.

A small frame loop of our own rather than pymodbus's serial server: pacing an answer needs
the arrival time of the request's first byte and one transmit schedule per line, a fault must
hold back one unit's answer without blocking the others, and corruption must damage frames
after the CRC is computed; pymodbus's request handler gives none of these hooks. The answers
themselves come from rtu_responder.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from simulators.rtu_frames import Request, RequestAssembler
from simulators.rtu_responder import RtuResponder
from simulators.rtu_wire import Line, answer_start, release_plan

log = logging.getLogger(__name__)
_PARTIAL_FRAME_GAP_S = 0.05  # a pty splits no frame for longer; OS jitter dwarfs t3.5
_REOPEN_S = 0.5


@dataclass(frozen=True)
class RtuConfig:
    """What the PLC serves over RTU besides Modbus TCP."""

    devices: tuple[str, ...] = ()  # serial devices, one line each
    tcp_port: int | None = None  # RTU over TCP (0: a free port)
    line: Line = field(default_factory=Line)
    pace: str = "on"  # one of rtu_wire.PACE_CHOICES
    corrupt: float = 0.0  # fraction of answer frames damaged
    seed: int = 0


class _Session:
    """One end of a line (a serial device or a TCP connection): requests in, answers out,
    paced as the line would carry them."""

    def __init__(
        self, responder: RtuResponder, line: Line, pace: bool, send: Callable[[bytes], None]
    ) -> None:
        self.responder = responder
        self.line = line
        self.pace = pace
        self.send = send
        self.assembler = RequestAssembler(max(line.silence, _PARTIAL_FRAME_GAP_S))
        self.line_free = float("-inf")
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop = asyncio.get_running_loop()

    def received(self, data: bytes) -> None:
        for request in self.assembler.feed(data, self.loop.time()):
            task = self.loop.create_task(self._serve(request))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _serve(self, request: Request) -> None:
        answer = await self.responder.answer(request.frame)
        if answer is None:
            return
        if not self.pace:
            self.send(answer)
            return
        start = answer_start(
            self.line,
            first=request.first,
            last=request.last,
            request_bytes=len(request.frame),
            ready=self.loop.time(),
            line_free=self.line_free,
        )
        self.line_free = start + self.line.wire_time(len(answer))
        offset = 0
        for moment, count in release_plan(self.line, start=start, nbytes=len(answer)):
            if (wait := moment - self.loop.time()) > 0:
                await asyncio.sleep(wait)  # sleeps at least that long: never early
            self.send(answer[offset : offset + count])
            offset += count

    @property
    def pending(self) -> int:
        """Answers being prepared or paced now."""
        return len(self.tasks)

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()


class SerialRtuLine:
    """RTU on one serial device; reopened by itself if the line goes away (socat exits)."""

    def __init__(self, device: str, responder: RtuResponder, line: Line, pace: bool) -> None:
        self.device = device
        self.responder = responder
        self.line = line
        self.pace = pace
        self.port: Any = None
        self.session: _Session | None = None
        self._reopen: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"modbus+rtu://{self.device}"

    async def start(self) -> None:
        """Open the device; OSError naming it when it cannot be opened."""
        try:
            self._open()
        except (OSError, termios.error) as exc:  # serial.SerialException is an OSError
            raise OSError(f"cannot serve Modbus RTU on {self.device}: {exc}") from None

    def _open(self) -> None:
        line = self.line
        try:
            self.port = self._serial(line.parity)
        except termios.error as exc:
            # a pty may refuse a parity bit (EINVAL; the Linux pty has none to set): it
            # carries the bytes all the same, and the pacing still counts the parity bit
            if line.parity == "N":
                raise OSError(f"{self.device}: cannot set the line up: {exc}") from None
            log.debug("%s refuses parity %s (a pty?): opened without", self.device, line.parity)
            self.port = self._serial("N")
        self.session = _Session(self.responder, line, self.pace, self._write)
        asyncio.get_running_loop().add_reader(self.port.fileno(), self._readable)

    def _serial(self, parity: str) -> Any:
        line = self.line
        return serial.Serial(
            self.device,
            baudrate=line.baudrate,
            bytesize=line.bytesize,
            parity=parity,
            stopbits=line.stopbits,
            timeout=0,  # given here: setting it later reconfigures the port again
            exclusive=True,
        )

    def _readable(self) -> None:
        try:
            data = os.read(self.port.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            self._lost(None)
        elif self.session is not None:
            self.session.received(data)

    def _write(self, data: bytes) -> None:
        if self.port is None:
            return
        try:
            os.write(self.port.fileno(), data)
        except BlockingIOError:  # nobody reads the other end: the bytes are lost, as on a line
            log.debug("%s: output full, %d bytes dropped", self.device, len(data))
        except OSError as exc:
            self._lost(exc)

    def _close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.port is not None:
            asyncio.get_running_loop().remove_reader(self.port.fileno())
            self.port.close()
            self.port = None

    def _lost(self, exc: Exception | None) -> None:
        log.warning("%s: serial line lost (%s), reopening", self.device, exc or "hang-up")
        self._close()
        if self._reopen is None:
            self._reopen = asyncio.get_running_loop().create_task(self._reopen_later())

    async def _reopen_later(self) -> None:
        while True:
            await asyncio.sleep(_REOPEN_S)
            try:
                self._open()
            except (OSError, serial.SerialException, termios.error):
                continue
            self._reopen = None
            return

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        self._close()


class RtuTcpServer:
    """RTU frames over TCP, as a serial device server carries them; one session per client."""

    def __init__(self, responder: RtuResponder, line: Line, pace: bool) -> None:
        self.responder = responder
        self.line = line
        self.pace = pace
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.sessions: set[_Session] = set()
        self.host, self.port = "", 0

    @property
    def endpoint(self) -> str:
        return f"modbus+rtu-tcp://{self.host}:{self.port}"

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._client, host, port)
        self.host, self.port = self.server.sockets[0].getsockname()[:2]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        session = _Session(self.responder, self.line, self.pace, send)
        self.writers.add(writer)
        self.sessions.add(session)
        try:
            while data := await reader.read(4096):
                session.received(data)
        except ConnectionError:
            pass
        finally:
            session.close()
            self.sessions.discard(session)
            self.writers.discard(writer)
            writer.close()

    def drop_connections(self) -> None:
        for writer in list(self.writers):
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.drop_connections()
            await self.server.wait_closed()
            self.server = None
