"""The contract between the core and a protocol's collector.

The core (runtime, `gateway once`, metrics, readiness) knows a collector only through
`Collector` and a compiled connection only through `ConnectionPlan`; the pipeline knows a tag
only through `gateway.model.TagPlan`. Everything else belongs to the protocol's folder.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.model import Batch, Sample, TagPlan

#: how a collector hands over the readings of one scan (or one batch of notifications): a
#: list of Samples, or a `Batch` that carries lines it encoded itself besides its Samples
Emit = Callable[[list[Sample] | Batch], Awaitable[None]]


class State(enum.IntEnum):
    """Exported as the `gateway_device_up` metric: 1 up, 0 down, -1 demoted."""

    UP = 1
    DOWN = 0
    DEMOTED = -1


@dataclass
class DeviceStats:
    """Counters of one device (metrics labels: device, never tag)."""

    state: State = State.UP
    scans: int = 0
    late_scans: int = 0
    skipped_scans: int = 0  # while demoted
    reads: int = 0  # protocol requests (Modbus reads, OPC UA read calls, ...)
    read_errors: int = 0
    scan_seconds_total: float = 0.0
    last_scan_seconds: float = 0.0
    last_error: str = ""


@dataclass
class ConnectionStats:
    """Counters of one connection (metrics labels: endpoint)."""

    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    dropped_samples: int = 0  # read, but dropped because the pipeline could not keep up


@runtime_checkable
class ConnectionPlan(Protocol):
    """One compiled connection of some protocol: what the core needs of it."""

    @property
    def protocol(self) -> str:
        """The registry key of the protocol that reads it."""
        ...

    @property
    def name(self) -> str:
        """Its name in logs and metrics (e.g. the endpoint)."""
        ...

    @property
    def devices(self) -> tuple[str, ...]:
        """The names of the devices read through it."""
        ...

    def tag_plans(self) -> Iterable[TagPlan]:
        """Every tag read through it (what the pipeline is built from)."""
        ...


class Collector(Protocol):
    """One connection's collector: reads its devices and emits samples.

    `run` and `scan_all` never raise for a device or connection problem: those become BAD
    samples with a reason, and the stats say so.
    """

    name: str  # the connection's name (logs, metrics label `endpoint`)
    protocol: str
    stats: ConnectionStats
    devices: dict[str, DeviceStats]  # device name -> its counters

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Collect until `stop` is set (the scan in progress completes) or cancelled."""
        ...

    async def scan_all(self) -> list[Sample]:
        """Read every tag once and return the samples (for `gateway once`)."""
        ...

    def shutdown_grace_s(self) -> float:
        """How long a scan in progress may take to finish when stopping."""
        ...

    def close(self) -> None:
        """Release the connection (idempotent)."""
        ...


__all__ = ["Collector", "ConnectionPlan", "ConnectionStats", "DeviceStats", "Emit", "State"]
