"""Helpers of the OPC UA collector tests: a plan from a tag-map dict, and an emit that records
every sample and lets a test await a condition on them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway.collectors.opcua.collector import OpcuaConnection
from gateway.collectors.opcua.compile import OpcuaPlan, compile_opcua
from gateway.collectors.opcua.models import OpcuaDevice
from gateway.model import Sample


def plan_of(endpoint: str, tags: list[dict[str, Any]], **device: Any) -> OpcuaPlan:
    spec = {"name": "dev", "protocol": "opcua", "endpoint": endpoint, "measurement": "m"}
    spec |= {"scan_rate": 0.1, "timeout": 5.0} | device | {"tags": tags}
    return compile_opcua([OpcuaDevice.model_validate(spec)])[0]


class Recorder:
    """The collector's emit: every batch it hands over, in order."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self._changed = asyncio.Condition()

    async def __call__(self, batch: list[Sample]) -> None:
        async with self._changed:
            self.samples.extend(batch)
            self._changed.notify_all()

    async def until(self, done: Callable[[list[Sample]], bool], timeout: float = 30.0) -> None:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: done(self.samples))

        await asyncio.wait_for(wait(), timeout)

    def latest(self) -> dict[str, Sample]:
        """The last sample of each field."""
        return {s.point.field: s for s in self.samples}


def every_field(plan: OpcuaPlan, ok: Callable[[Sample], bool]) -> Callable[[list[Sample]], bool]:
    """True once every field of `plan` has a sample `ok` accepts."""
    fields = {f.point.field for f in plan.tag_plans()}

    def done(samples: list[Sample]) -> bool:
        return fields <= {s.point.field for s in samples if ok(s)}

    return done


@contextlib.asynccontextmanager
async def running(connection: OpcuaConnection) -> AsyncIterator[asyncio.Event]:
    """The connection's `run` in a task, stopped (and awaited) at the end."""
    stop = asyncio.Event()
    task = asyncio.create_task(connection.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for a condition on counters nothing signals (checked every 50 ms)."""

    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), timeout)
