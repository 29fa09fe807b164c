"""Stopping the gateway while a sink write is in progress writes every line exactly once."""

from __future__ import annotations

import asyncio
import time

from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.testing import memory_forwarders


class SlowSink(MemorySink):
    """Writes in a worker thread, like the file sink: once started, a write completes even
    if the coroutine awaiting it is cancelled. `writing` is set while one is in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()

    async def write(self, lines):
        self.writing.set()
        await asyncio.to_thread(self._store, list(lines))

    def _store(self, lines):
        time.sleep(0.3)
        self.lines.extend(lines)


async def test_stop_during_a_write_neither_loses_nor_repeats_lines():
    sink = SlowSink()
    gateway = Gateway([], memory_forwarders(sink, flush_interval=0.01), commit_interval=0.01)
    run = asyncio.create_task(gateway.run())
    lines = [f"m v={i} {i}" for i in range(10)]
    await asyncio.sleep(0)  # let run() open the outputs
    gateway.put(lines)
    await asyncio.wait_for(sink.writing.wait(), 5)
    gateway.stop()  # while the write is in progress
    assert await run is True
    assert sink.lines == lines


async def test_a_write_longer_than_the_drain_deadline_is_finished_not_resent(tmp_path):
    from gateway.buffer.sqlite import SqliteBuffer
    from gateway.runtime.forwarder import Forwarder

    sink = SlowSink()  # 0.3 s per write, far beyond the 0.05 s drain timeout below
    buffer = SqliteBuffer(tmp_path / "slow.sqlite", name="slow")
    gateway = Gateway([], [Forwarder(buffer, sink, flush_interval=0.01)], commit_interval=0.01)
    run = asyncio.create_task(gateway.run(drain_timeout=0.05))
    lines = [f"m v={i} {i}" for i in range(10)]
    await asyncio.sleep(0)
    gateway.put(lines)
    await asyncio.wait_for(sink.writing.wait(), 5)
    gateway.stop()
    assert await run is True
    assert sink.lines == lines  # once: the write finished and was acknowledged
    again = SqliteBuffer(tmp_path / "slow.sqlite", name="slow")
    await again.open()
    assert again.stats.depth == 0  # nothing left to be sent a second time at the next start
    await again.close()


async def test_a_sink_is_not_ready_before_its_first_write():
    from gateway.runtime.assemble import readiness
    from gateway.telemetry.metrics import collect, render_prometheus

    sink = MemorySink()
    gateway = Gateway([], memory_forwarders(sink))
    ok, reason = readiness(gateway)
    assert not ok
    assert reason == "no write to memory yet"
    assert 'gateway_sink_up{sink="memory"} 0' in render_prometheus(collect(gateway, 0))
    gateway.put(["m v=1 1"])
    assert await gateway.forwarders[0].flush(asyncio.get_running_loop().time() + 5)
    assert 'gateway_sink_up{sink="memory"} 1' in render_prometheus(collect(gateway, 0))


async def test_a_failing_store_at_shutdown_still_closes_every_sink(tmp_path):
    from gateway.buffer.memory import MemoryBuffer
    from gateway.runtime.forwarder import Forwarder

    class BrokenStore(MemoryBuffer):
        broken = False

        async def begin(self, max_lines):
            if self.broken:
                raise OSError("disk I/O error")
            return await super().begin(max_lines)

    good, bad = MemorySink("good"), MemorySink("bad")
    store = BrokenStore(name="bad")
    gateway = Gateway(
        [],
        [
            Forwarder(MemoryBuffer(name="good"), good, flush_interval=0.01),
            Forwarder(store, bad, flush_interval=0.01),
        ],
        commit_interval=0.01,
    )
    run = asyncio.create_task(gateway.run(drain_timeout=0.2))
    await asyncio.sleep(0)
    store.broken = True
    gateway.put(["m v=1 1"])
    gateway.stop()
    assert await run is False  # the memory store could not deliver: reported, not raised
    assert good.closed
    assert bad.closed
    assert good.lines == ["m v=1 1"]


async def test_the_scan_deadline_at_shutdown_includes_connecting():
    """A scan in progress at shutdown may still be connecting (up to timeout + 1 s) before
    its requests each wait timeout x (retries + 1): the deadline covers both."""
    from gateway.collectors.modbus.compile import compile_connections
    from gateway.collectors.modbus.models import ModbusDevice

    tags = [
        {"name": "run", "space": "coil", "address": 0},
        {"name": "sp", "space": "holding_register", "address": 0},
        {"name": "a", "space": "input_register", "address": 0},
        {"name": "b", "space": "input_register", "address": 3},  # bridges a gap of 2
    ]
    device = ModbusDevice.model_validate(
        {
            "name": "rect",
            "endpoint": "modbus+tcp://127.0.0.1:502",
            "timeout": 2.0,
            "retries": 1,
            "max_gap": 2,
            "tags": tags,
        }
    )
    gateway = Gateway(compile_connections((device,)), memory_forwarders(MemorySink()))
    connect = 2.0 + 1.0
    # coil, holding, and the merged input read, which may be refused and read as 2 pieces
    reads = 1 + 1 + (1 + 2)
    assert gateway._scan_deadline() >= connect + reads * 2.0 * 2
    gateway.connections[0].close()
