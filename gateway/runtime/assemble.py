"""Build a ready-to-run Gateway from loaded tag maps: connections, sinks with their buffers,
the health endpoint and the gateway's own statistics."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence

from gateway.clock import Clock, SystemClock
from gateway.config import LoadedConfig
from gateway.config.compile import compile_connections
from gateway.config.models import BufferConfig, HealthConfig
from gateway.runtime.app import Gateway, Observer
from gateway.runtime.outputs import build_forwarders
from gateway.runtime.sinkset import build_sinks, effective_sinks
from gateway.sinks.base import Sink
from gateway.sinks.lineprotocol import Precision
from gateway.telemetry.health import HealthServer
from gateway.telemetry.metrics import collect, render_prometheus, stats_lines


def readiness(gateway: Gateway) -> tuple[bool, str]:
    """Ready when every sink's last write succeeded and at least one device is up."""
    down = [f.sink.name for f in gateway.forwarders if f.stats.healthy is False]
    if down:
        return False, f"sink not reachable: {', '.join(down)}"
    untried = [f.sink.name for f in gateway.forwarders if f.stats.healthy is None]
    if untried:
        return False, f"no write to {', '.join(untried)} yet"
    up = [
        name
        for conn in gateway.connections
        if conn.stats.connected
        for name, dev in conn.devices.items()
        if dev.state > 0
    ]
    if not up:
        return False, "no device up"
    return True, f"ready: {len(up)} devices up"


def build_gateway(
    config: LoadedConfig,
    *,
    sinks: Sequence[Sink] | None = None,
    observers: Sequence[Observer] = (),
    health_port: int | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> tuple[Gateway, HealthServer | None]:
    """The gateway of a configuration (sinks default to the configured ones)."""
    clock = clock or SystemClock()
    settings = effective_sinks(config.sinks, os.environ if env is None else env)
    buffering = config.buffer or BufferConfig()
    chosen = list(sinks) if sinks is not None else build_sinks(config.sinks, env)
    gateway = Gateway(
        compile_connections(config.devices),
        build_forwarders(chosen, config.sinks, buffering, clock),
        Precision(settings.precision),
        buffering.commit_interval,
        clock,
        observers,
    )
    health = config.health or HealthConfig()
    port = health.port if health_port is None else health_port
    server = None
    if port:
        server = HealthServer(
            health.listen,
            port,
            lambda: readiness(gateway),
            lambda: render_prometheus(collect(gateway, clock.now_ns())),
        )
        gateway.background.append(server.serve)
    if health.stats_interval:
        gateway.background.append(_stats_writer(gateway, health.stats_interval, clock))
    return gateway, server


def _stats_writer(gateway: Gateway, every: float, clock: Clock) -> Callable[[], Awaitable[None]]:
    """A job that puts the gateway's own metrics into its buffers every `every` seconds."""
    divisor = Precision(gateway.precision).divisor

    async def write_stats() -> None:
        while True:
            await clock.sleep(every)
            now = clock.now_ns()
            gateway.put(stats_lines(collect(gateway, now), now, divisor))

    return write_stats
