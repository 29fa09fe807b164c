"""Faults and commands of the simulated OPC UA PLC (see opcua_plc.py), on top of asyncua.

- `status_code(name)`: an OPC UA StatusCode from its symbolic name (forced node status, the
  plant's bad tags), with a clear error for a misspelt name.
- `drop_client_sessions(server)`: close every client session and connection, as a PLC that
  loses its sessions does. asyncua 2.1 keeps an activated session that has subscriptions
  alive after its TCP connection is lost (so a client can re-activate it, Part 4 6.7); a
  plain transport close is therefore not enough to invalidate a session.
- `command_method` / `fault_method`: the callbacks of the Tap/ChangeAnode/Reset and
  InjectFault/ClearFault methods; a refused call answers a Bad status, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from asyncua import Server, ua
from asyncua.server.internal_session import InternalSession

log = logging.getLogger(__name__)

FAULT_ARGS = (("kind", "plant fault, e.g. thermocouple_open"), ("target", "device name or ''"))

MethodResult = list[ua.Variant] | ua.StatusCode
MethodCallback = Callable[..., Awaitable[MethodResult]]


def status_code(name: str) -> ua.StatusCode:
    """The StatusCode named `name` (e.g. "BadSensorFailure", "UncertainLastUsableValue")."""
    value = getattr(ua.StatusCodes, name, None) if name.isidentifier() else None
    if not isinstance(value, int) or name.startswith("_"):
        raise ValueError(f"unknown OPC UA status code {name!r}")
    return ua.StatusCode(ua.UInt32(value))


def _bad(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


def _run(action: Callable[[], None], failure: int) -> MethodResult:
    try:
        action()
    except (ValueError, KeyError, TypeError) as exc:
        log.info("method call refused: %s", exc)
        return _bad(failure)
    return []


def command_method(action: Callable[[], None]) -> MethodCallback:
    """A method without arguments that runs `action` (BadInvalidState if the plant refuses)."""

    async def call(parent: ua.NodeId, *args: ua.Variant) -> MethodResult:
        if args:
            return _bad(ua.StatusCodes.BadTooManyArguments)
        return _run(action, ua.StatusCodes.BadInvalidState)

    return call


def fault_method(faults: Sequence[str], act: Callable[[str, str | None], None]) -> MethodCallback:
    """InjectFault/ClearFault(kind: String, target: String): `act(kind, target or None)`.
    Unknown kinds and targets the plant refuses answer BadInvalidArgument."""

    async def call(parent: ua.NodeId, *args: ua.Variant) -> MethodResult:
        if len(args) != len(FAULT_ARGS):
            short = len(args) < len(FAULT_ARGS)
            return _bad(
                ua.StatusCodes.BadArgumentsMissing if short else ua.StatusCodes.BadTooManyArguments
            )
        kind, target = args[0].Value, args[1].Value
        if not isinstance(kind, str) or not isinstance(target, str | None):
            return _bad(ua.StatusCodes.BadTypeMismatch)
        if kind not in faults:
            return _bad(ua.StatusCodes.BadInvalidArgument)
        return _run(partial(act, kind, target or None), ua.StatusCodes.BadInvalidArgument)

    return call


def _client_sessions(server: Server) -> list[InternalSession]:
    """Every external session: those bound to a connection and those left without one."""
    sessions: dict[int, InternalSession] = {}
    if server.bserver is not None:
        for protocol in server.bserver.clients:
            session = protocol.processor.session if protocol.processor is not None else None
            if session is not None:
                sessions[id(session)] = session
    # Sessions whose connection is already gone but which asyncua keeps for re-activation.
    # asyncua 2.1 has no public accessor for them.
    detached: dict[ua.NodeId, InternalSession] = getattr(server.iserver, "_external_sessions", {})
    for session in detached.values():
        sessions[id(session)] = session
    return list(sessions.values())


async def drop_client_sessions(server: Server, wait: float = 2.0) -> int:
    """Close every client session (with its subscriptions) and every client connection.

    Returns the number of sessions closed. Waits (at most `wait` s) until the server has seen
    all connections go, so a client that connects afterwards is a new one.
    """
    sessions = _client_sessions(server)
    for session in sessions:
        await session.close_session(delete_subs=True)
    if server.bserver is None:
        return len(sessions)
    closing = list(server.bserver.clients)
    for protocol in closing:
        if protocol.transport is not None:
            protocol.transport.close()
    deadline = time.monotonic() + wait  # (clients that reconnect meanwhile are new ones)
    while any(p in server.bserver.clients for p in closing) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # connection_lost runs on a later loop iteration
    log.info("dropped %d OPC UA session(s)", len(sessions))
    return len(sessions)
