"""The gateway's metrics: collected from its components, rendered as Prometheus text or as
line protocol (measurement `gateway_stats`). Labels are per device, connection or sink, never
per tag."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.model import escape_key
from gateway.sinks.lineprotocol import UNENCODABLE

if TYPE_CHECKING:
    from gateway.runtime.app import Gateway

Labels = tuple[tuple[str, str], ...]


@dataclass
class Family:
    """One metric: name, type, help, and a value per label set."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)


def _devices(gateway: Gateway, add: _Add) -> None:
    for conn in gateway.connections:
        endpoint = (("endpoint", conn.name),)
        add(
            "connection_up",
            "gauge",
            "1 when the connection is open",
            endpoint,
            conn.stats.connected,
        )
        add(
            "connection_connects_total",
            "counter",
            "connection attempts",
            endpoint,
            conn.stats.connects,
        )
        add(
            "connection_failures_total",
            "counter",
            "failed or lost connections",
            endpoint,
            conn.stats.connect_failures,
        )
        add(
            "connection_dropped_samples_total",
            "counter",
            "samples read but dropped because the pipeline could not keep up",
            endpoint,
            conn.stats.dropped_samples,
        )
        for name, dev in conn.devices.items():
            labels = (("device", name),)
            up = int(dev.state) if conn.stats.connected or dev.state < 0 else 0
            add("device_up", "gauge", "1 up, 0 down, -1 demoted", labels, up)
            add("device_scans_total", "counter", "scans done", labels, dev.scans)
            add(
                "device_late_scans_total",
                "counter",
                "scan slots skipped because a scan overran",
                labels,
                dev.late_scans,
            )
            add(
                "device_skipped_scans_total",
                "counter",
                "scans skipped while demoted",
                labels,
                dev.skipped_scans,
            )
            add(
                "device_reads_total",
                "counter",
                "protocol requests (Modbus reads, OPC UA calls)",
                labels,
                dev.reads,
            )
            add("device_read_errors_total", "counter", "failed requests", labels, dev.read_errors)
            add(
                "device_scan_seconds_total",
                "counter",
                "time spent scanning",
                labels,
                dev.scan_seconds_total,
            )
            add(
                "device_last_scan_seconds",
                "gauge",
                "duration of the last scan",
                labels,
                dev.last_scan_seconds,
            )


def _outputs(gateway: Gateway, add: _Add, now_ns: int) -> None:
    for fwd in gateway.forwarders:
        labels = (("sink", fwd.sink.name),)
        buf = fwd.buffer.stats
        add("buffer_lines", "gauge", "lines held", labels, buf.depth)
        add("buffer_bytes", "gauge", "bytes held", labels, buf.bytes)
        age = 0.0 if buf.oldest_ns is None else max(0.0, (now_ns - buf.oldest_ns) / 1e9)
        add("buffer_oldest_age_seconds", "gauge", "age of the oldest line held", labels, age)
        add("buffer_received_total", "counter", "lines queued", labels, buf.received)
        add("buffer_sent_total", "counter", "lines acknowledged by the sink", labels, buf.sent)
        add(
            "buffer_durable",
            "gauge",
            "1 while the buffer can persist (0: disk full or failing, see /readyz)",
            labels,
            fwd.buffer.problem is None,
        )
        add(
            "buffer_unpersisted_lines",
            "gauge",
            "lines held in memory only (lost if the process ends now)",
            labels,
            fwd.buffer.unpersisted,
        )
        add(
            "buffer_sent_unpersisted_total",
            "counter",
            "lines sent from memory while the buffer could not persist them",
            labels,
            buf.unpersisted_sent,
        )
        for reason, count in buf.dropped.items():
            add(
                "buffer_dropped_total",
                "counter",
                "lines dropped by the buffer's limits",
                (*labels, ("reason", reason)),
                count,
            )
        add(
            "sink_up",
            "gauge",
            "1 when the last write succeeded (0 before the first)",
            labels,
            fwd.stats.healthy is True,
        )
        add("sink_written_total", "counter", "lines written", labels, fwd.stats.written)
        add(
            "sink_batch_lines",
            "gauge",
            "lines per batch (lowered after a 413)",
            labels,
            fwd.max_batch,
        )
        add("sink_retries_total", "counter", "failed writes retried", labels, fwd.stats.retries)
        add(
            "sink_rejected_total",
            "counter",
            "lines refused and dead-lettered",
            labels,
            fwd.stats.rejected,
        )


class _Add:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def __call__(self, name: str, kind: str, text: str, labels: Labels, value: float) -> None:
        family = self.families.setdefault(name, Family(f"gateway_{name}", kind, text))
        family.samples.append((labels, float(value)))


def collect(gateway: Gateway, now_ns: int) -> list[Family]:
    """Every metric of the gateway right now."""
    add = _Add()
    _devices(gateway, add)
    _outputs(gateway, add, now_ns)
    add("pipeline_received_total", "counter", "samples read", (), gateway.pipeline.received)
    add(
        "pipeline_passed_total",
        "counter",
        "samples written after the deadband",
        (),
        gateway.pipeline.passed,
    )
    add(
        "unencodable_values_total",
        "counter",
        "values of a type line protocol cannot hold, written as BAD (a collector bug)",
        (),
        UNENCODABLE.count,
    )
    return list(add.families.values())


def _value(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def render_prometheus(families: list[Family]) -> str:
    """Prometheus text exposition format 0.0.4."""
    out = []
    for family in families:
        out.append(f"# HELP {family.name} {family.help}")
        out.append(f"# TYPE {family.name} {family.kind}")
        for labels, value in family.samples:
            text = ",".join(
                f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                for k, v in labels
            )
            out.append(
                f"{family.name}{{{text}}} {_value(value)}"
                if text
                else f"{family.name} {_value(value)}"
            )
    return "\n".join(out) + "\n"


def stats_lines(families: list[Family], now_ns: int, divisor: int, extra: Labels = ()) -> list[str]:
    """The metrics as line protocol: measurement `gateway_stats`, one line per label set, the
    metric names (without `gateway_`) as fields; `extra` tags every line (a worker's index,
    so that the workers' lines of the same sink stay distinct points)."""
    grouped: dict[Labels, list[str]] = defaultdict(list)
    for family in families:
        field_name = escape_key(family.name.removeprefix("gateway_"))
        for labels, value in family.samples:
            grouped[(*extra, *labels)].append(f"{field_name}={value!r}")
    lines = []
    for labels, fields in grouped.items():
        tags = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in labels)
        lines.append(f"gateway_stats{tags} {','.join(fields)} {now_ns // divisor}")
    return lines
