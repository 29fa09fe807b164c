"""A TCP port that is free now and stays free of other programs' port-0 binds.

A server that must come back on the same port (the OPC UA PLC's restart, a test that starts
its server after the client) cannot hold the port while it is down. A port taken with
bind(port 0) comes from the kernel's ephemeral range, where every other bind(0) and every
outgoing connection on the machine draws its ports, so it is soon handed to someone else.
This picks a port below that range instead (randomly, checking it can be bound now), where
only programs that name their port go.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10_000  # below this: well-known and registered services of the machine
TRIES = 50


def ephemeral_start(path: Path = EPHEMERAL_RANGE) -> int:
    """The first port of the kernel's ephemeral range (Linux's default 32768 elsewhere)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on at the moment on `host`, outside the ephemeral range when
    there is room below it (else any free port the kernel gives)."""
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]
    top = ephemeral_start()
    candidates = [random.randrange(LOWEST, top) for _ in range(TRIES)] if top > LOWEST else []
    for port in [*candidates, 0]:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise OSError(f"no free TCP port on {host}")
