"""The running gateway with a buffer that cannot persist (SQLite's max_page_count makes it
full): data keeps flowing to the sink, /readyz and the metrics tell, nothing is lost."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gateway.buffer.sqlite import SqliteBuffer
from gateway.runtime.app import Gateway
from gateway.runtime.assemble import readiness
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.memory import MemorySink
from gateway.telemetry.metrics import collect, render_prometheus


def lines(n: int, prefix: str = "m") -> list[str]:
    pad = "x" * 500
    return [f'{prefix},site=a v={i}i,pad="{pad}" {1_700_000_000_000 + i}' for i in range(n)]


def metric(gateway: Gateway, name: str) -> float:
    text = render_prometheus(collect(gateway, 0))
    found = [ln for ln in text.splitlines() if ln.startswith(f'gateway_{name}{{sink="memory"}}')]
    assert found, name
    return float(found[0].split()[-1])


def set_max_pages(buffer: SqliteBuffer, pages: int | None = None) -> None:
    conn = buffer._conn
    assert conn is not None
    if pages is None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


async def test_a_full_buffer_keeps_the_data_flowing_and_readyz_tells(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO)
    sink = MemorySink()
    buffer = SqliteBuffer(tmp_path / "b.sqlite", name="memory")
    gateway = Gateway([], [Forwarder(buffer, sink, flush_interval=0.01)], commit_interval=0.01)
    await buffer.open()
    set_max_pages(buffer)  # full from the start
    run = asyncio.create_task(gateway.run())
    gateway.put(lines(30))
    await sink.wait_for(lambda got: len(got) == 30, 5)  # sent from memory
    assert buffer.problem == "disk full"
    ok, reason = readiness(gateway)
    assert not ok
    assert reason == "buffer not durable: disk full"
    assert metric(gateway, "buffer_durable") == 0
    assert metric(gateway, "buffer_sent_unpersisted_total") == 30
    gateway.put(lines(5, "n"))
    assert metric(gateway, "buffer_unpersisted_lines") == 5
    set_max_pages(buffer, 1_000_000)  # space is back
    await sink.wait_for(lambda got: len(got) == 35, 5)
    gateway.stop()
    assert await run is True  # nothing lost
    assert sink.lines == lines(30) + lines(5, "n")  # in order, once each
    assert buffer.problem is None
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "not durable" in errors[0].getMessage()
    assert any("durable again" in r.getMessage() for r in caplog.records)
