"""Protocol-level faults of the simulated OPC UA PLC, on top of the asyncua server.

- `status_code(name)`: an OPC UA StatusCode from its symbolic name (for forced node status and
  the plant's "bad" tags), with a clear error for a misspelt name.
- `drop_client_sessions(server)`: close every client session and connection, as a PLC that
  loses its sessions does. asyncua 2.1 keeps an activated session that has subscriptions
  alive after its TCP connection is lost (so a client can re-activate it, Part 4 6.7); a
  plain transport close is therefore not enough to invalidate a session.
- `free_port(host)`: a TCP port that is free right now on `host` (port 0 support).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from asyncua import Server, ua
from asyncua.server.internal_session import InternalSession

log = logging.getLogger(__name__)


def status_code(name: str) -> ua.StatusCode:
    """The StatusCode named `name` (e.g. "BadSensorFailure", "UncertainLastUsableValue")."""
    value = getattr(ua.StatusCodes, name, None) if name.isidentifier() else None
    if not isinstance(value, int) or name.startswith("_"):
        raise ValueError(f"unknown OPC UA status code {name!r}")
    return ua.StatusCode(value)


def free_port(host: str) -> int:
    """A port nobody listens on at the moment (bind to port 0, read it, close)."""
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _client_sessions(server: Server) -> list[InternalSession]:
    """Every external session: those bound to a connection and those left without one."""
    sessions: dict[int, InternalSession] = {}
    if server.bserver is not None:
        for protocol in server.bserver.clients:
            session = protocol.processor.session if protocol.processor is not None else None
            if session is not None:
                sessions[id(session)] = session
    # Sessions whose connection is already gone but which asyncua keeps for re-activation.
    # There is no public accessor for them in asyncua 2.1.
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
    for protocol in list(server.bserver.clients):
        if protocol.transport is not None:
            protocol.transport.close()
    deadline = time.monotonic() + wait
    while server.bserver.clients and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # connection_lost runs on a later loop iteration
    log.info("dropped %d OPC UA session(s)", len(sessions))
    return len(sessions)
