"""Assemble one output per sink: its buffer (SQLite or memory), dead-letter file, forwarder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from gateway.buffer.base import Buffer
from gateway.buffer.memory import MemoryBuffer
from gateway.clock import Clock
from gateway.config.models import BufferConfig, SinksConfig
from gateway.runtime.deadletter import DeadLetters
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.base import Sink


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def build_buffer(sink: Sink, config: BufferConfig, clock: Clock | None = None) -> Buffer:
    """The buffer of one sink as configured."""
    if config.type == "memory":
        return MemoryBuffer(max_lines=config.max_lines, name=sink.name, clock=clock)
    from gateway.buffer.sqlite import SqliteBuffer

    return SqliteBuffer(
        Path(config.directory) / f"{_safe(sink.name)}.sqlite",
        name=sink.name,
        max_lines=config.max_lines,
        max_bytes=config.max_bytes,
        max_age_s=config.max_age,
        when_full=config.when_full,
        fsync=config.fsync,
        clock=clock,
    )


def build_forwarders(
    sinks: Sequence[Sink],
    sinks_config: SinksConfig | None,
    buffer_config: BufferConfig | None,
    clock: Clock | None = None,
) -> list[Forwarder]:
    """A forwarder per sink, each with its own buffer and dead-letter file."""
    settings = sinks_config or SinksConfig()
    buffering = buffer_config or BufferConfig()
    return [
        Forwarder(
            build_buffer(sink, buffering, clock),
            sink,
            settings.batch_size,
            settings.flush_interval,
            clock,
            dead_letters=DeadLetters(Path(buffering.directory) / f"{_safe(sink.name)}.rejected.lp"),
        )
        for sink in sinks
    ]
