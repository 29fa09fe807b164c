"""Build a ready-to-run Gateway from loaded tag maps: connections, sinks with their buffers,
the health endpoint and the gateway's own statistics."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence

from gateway.clock import Clock, SystemClock
from gateway.collectors.base import ConnectionPlan
from gateway.collectors.registry import compile_all
from gateway.config import LoadedConfig
from gateway.config.models import BufferConfig, HealthConfig
from gateway.runtime.app import Gateway, Observer
from gateway.runtime.forwarder import Forwarder
from gateway.runtime.outputs import build_forwarders
from gateway.runtime.sinkset import build_sinks, describe_sink, effective_sinks
from gateway.sinks.base import Sink
from gateway.sinks.lineprotocol import Precision
from gateway.telemetry.health import HealthServer
from gateway.telemetry.metrics import Labels, collect, render_prometheus, stats_lines

log = logging.getLogger(__name__)


def readiness(gateway: Gateway) -> tuple[bool, str]:
    """Ready when every sink's last write succeeded, every durable buffer can persist, and
    at least one device is up."""
    reasons = [  # unreachable, failing, or refusing every line: the last error says which
        f"sink not writing: {f.sink.name} ({f.stats.last_error})"
        for f in gateway.forwarders
        if f.stats.healthy is False and not f.refusing
    ]
    reasons += [
        f"sink refuses the requests: {f.sink.name} ({f.stats.last_error})"
        for f in gateway.forwarders
        if f.refusing
    ]
    reasons += not_durable(gateway.forwarders)
    if reasons:
        return False, "; ".join(reasons)
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


def not_durable(forwarders: Sequence[Forwarder]) -> list[str]:
    """ "buffer not durable: <why>" for each buffer that cannot persist (disk full...)."""
    named = len(forwarders) > 1
    return [
        f"buffer not durable: {f.buffer.problem}" + (f" ({f.sink.name})" if named else "")
        for f in forwarders
        if f.buffer.problem is not None
    ]


def build_gateway(
    config: LoadedConfig,
    *,
    sinks: Sequence[Sink] | None = None,
    observers: Sequence[Observer] = (),
    health_port: int | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    stats_tags: Labels = (),
    connections: Sequence[ConnectionPlan] | None = None,
) -> tuple[Gateway, HealthServer | None]:
    """The gateway of a configuration (sinks default to the configured ones); `stats_tags`
    are added to every `gateway_stats` line (a worker's index); `connections`, when given,
    are the compiled `config.devices`."""
    clock = clock or SystemClock()
    settings = effective_sinks(config.sinks, os.environ if env is None else env)
    buffering = config.buffer or BufferConfig()
    where = config.sections_at.get("sinks")
    chosen = list(sinks) if sinks is not None else build_sinks(config.sinks, env, where)
    if connections is None:
        connections = compile_all(config.devices)
    log_start(connections, chosen)
    gateway = Gateway(
        connections,
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
        gateway.background.append(_stats_writer(gateway, health.stats_interval, clock, stats_tags))
    return gateway, server


def log_start(connections: Sequence[ConnectionPlan], sinks: Sequence[Sink]) -> None:
    """Say once, at INFO, where the data goes and what is polled through each connection."""
    for sink in sinks:
        log.info("%s", describe_sink(sink))
    for plan in connections:
        devices = len(plan.devices)
        names = ", ".join(plan.devices[:5]) + (f", ... (+{devices - 5})" if devices > 5 else "")
        tags = sum(1 for _ in plan.tag_plans())
        log.info(
            "connection %s: %s (%s), %s",
            plan.name,
            _count(devices, "device"),
            names,
            _count(tags, "tag"),
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _stats_writer(
    gateway: Gateway, every: float, clock: Clock, tags: Labels = ()
) -> Callable[[], Awaitable[None]]:
    """A job that puts the gateway's own metrics into its buffers every `every` seconds."""
    divisor = Precision(gateway.precision).divisor

    async def write_stats() -> None:
        while True:
            await clock.sleep(every)
            now = clock.now_ns()
            gateway.put(stats_lines(collect(gateway, now), now, divisor, tags))

    return write_stats
