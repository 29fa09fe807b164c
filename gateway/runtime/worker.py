"""One worker process of `gateway run --workers N` (started by the supervisor as
`gateway run PATHS --worker I/N --link-fd FD`).

The worker reads its shard of the connections (`shards.assign`, computed from the same tag
maps as the supervisor did), keeps its own buffer files (each locked by the buffer), serves
its health and metrics on 127.0.0.1 at a free port, and tells the supervisor that port over
the link socket. When the supervisor is gone (the link reads end-of-file), the worker stops
as on SIGTERM: nothing buffered is abandoned because its parent died.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket

from gateway.collectors.registry import compile_all
from gateway.config import LoadedConfig
from gateway.errors import GatewayError
from gateway.runtime.app import Gateway
from gateway.runtime.assemble import build_gateway, readiness
from gateway.runtime.shards import DIGEST_ENV, assign, digest, worker_config
from gateway.telemetry.health import HealthServer
from gateway.telemetry.metrics import collect, render_prometheus

log = logging.getLogger(__name__)


def parse_slot(text: str) -> tuple[int, int]:
    """ "I/N" -> (I, N), 0 <= I < N."""
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if not 0 <= i < n:
        raise ValueError(f"worker {text!r}: expected I/N with 0 <= I < N")
    return i, n


def shard_config(config: LoadedConfig, index: int, count: int) -> LoadedConfig:
    """Worker `index`'s configuration: only the devices of its connections, its own buffer
    directory and file-sink prefix."""
    shards = assign(compile_all(config.devices), config.devices, count)
    expected = os.environ.get(DIGEST_ENV)
    if expected and digest(shards) != expected:
        raise GatewayError(
            "the tag maps changed since the gateway started, so this worker would not read "
            "the connections the others leave to it; restart the gateway to apply the change"
        )
    names = {name for plan in shards[index] for name in plan.devices}
    mine = dataclasses.replace(config, devices=tuple(d for d in config.devices if d.name in names))
    return worker_config(mine, index, os.environ)


async def _watch_parent(reader: asyncio.StreamReader, gateway: Gateway) -> None:
    """Stop the worker when the supervisor closes the link (it ended or was killed)."""
    await reader.read()
    log.warning("The supervisor is gone; stopping.")
    gateway.stop()


def _stop_on_signals(gateway: Gateway) -> None:
    """SIGTERM/SIGINT stop the worker gracefully; a repeated one is ignored, since a service
    manager may signal the supervisor and every worker at once (systemd's default), and the
    supervisor passes its own on. Stopping at once is the supervisor's SIGKILL."""
    loop = asyncio.get_running_loop()
    signalled: list[int] = []

    def stop() -> None:
        if signalled:
            return
        signalled.append(1)
        log.info("Stopping: finishing scans, committing and writing what is buffered.")
        gateway.stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


async def run_worker(
    config: LoadedConfig, index: int, count: int, link_fd: int, drain_timeout: float
) -> bool:
    """Run worker `index` of `count` until stopped; True when nothing is left unwritten."""
    mine = shard_config(config, index, count)
    gateway, _ = build_gateway(mine, health_port=0, stats_tags=(("worker", str(index)),))
    clock = gateway.clock
    server = HealthServer(
        "127.0.0.1",
        0,
        lambda: readiness(gateway),
        lambda: render_prometheus(collect(gateway, clock.now_ns())),
    )
    await server.start()
    gateway.background.append(server.serve)
    _stop_on_signals(gateway)  # before the report: the supervisor then passes signals on
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=link_fd))
    try:
        writer.write(f"{server.port}\n".encode())
        await writer.drain()
    except ConnectionError:  # it died while this worker started: write what is buffered, end
        log.warning("The supervisor is gone; stopping.")
        gateway.stop()
    else:
        gateway.background.append(lambda: _watch_parent(reader, gateway))
    ok = await gateway.run(None, drain_timeout)
    writer.close()
    return ok
