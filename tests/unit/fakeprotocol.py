"""A protocol that exists only in the tests: it proves a new protocol plugs into the core
(loader, CSV, checks, compile, `plan`, `once`, runtime, metrics) without changing it.

A fake device "reads" the constant `value` of each tag; `kind: blob` declares values of type
bytes, which the line-protocol encoder cannot hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field

from gateway.clock import Clock
from gateway.collectors.base import Collector, ConnectionStats, DeviceStats, Emit
from gateway.collectors.registry import Plugin
from gateway.collectors.schedule import sleep_or_stop
from gateway.config.checks import check_common
from gateway.config.csvtags import Columns
from gateway.config.models import DeviceFields, TagFields
from gateway.config.tagplan import pipeline_plan
from gateway.model import Quality, Sample, TagPlan


class FakeTag(TagFields):
    value: float | str = Field(0.0, union_mode="left_to_right", description="every read")
    kind: Literal["number", "text", "blob"] = "number"


class FakeDevice(DeviceFields):
    protocol: Literal["fake"] = "fake"
    source: str = Field(min_length=1, description="where the values come from")
    measurement: str = Field("fake", min_length=1)
    tags: list[FakeTag] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FakePlan:
    device: FakeDevice
    tags: tuple[TagPlan, ...]
    values: tuple[float | str, ...]

    protocol: ClassVar[str] = "fake"

    @property
    def name(self) -> str:
        return f"fake://{self.device.source}"

    @property
    def devices(self) -> tuple[str, ...]:
        return (self.device.name,)

    def tag_plans(self) -> tuple[TagPlan, ...]:
        return self.tags


class FakeCollector:
    protocol = "fake"

    def __init__(self, plan: FakePlan, emit: Emit, clock: Clock) -> None:
        self.plan, self.emit, self.clock = plan, emit, clock
        self.name = plan.name
        self.stats = ConnectionStats()
        self.devices = {plan.device.name: DeviceStats()}
        self.closed = False

    async def scan_all(self) -> list[Sample]:
        self.stats.connected = True
        now = self.clock.now_ns()
        stats = self.devices[self.plan.device.name]
        stats.scans += 1
        return [
            Sample(tag.point, value, Quality.GOOD, now)
            for tag, value in zip(self.plan.tags, self.plan.values, strict=True)
        ]

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.emit(await self.scan_all())
            if await sleep_or_stop(self.clock, self.plan.device.scan_rate, stop):
                break
        self.close()

    def shutdown_grace_s(self) -> float:
        return 0.1

    def close(self) -> None:
        self.closed = True
        self.stats.connected = False


def compile_fake(devices: Sequence[FakeDevice]) -> list[FakePlan]:
    plans = []
    for device in devices:
        if device.enabled and device.tags:
            tags = tuple(pipeline_plan(t, device, t.kind == "number") for t in device.tags)
            plans.append(FakePlan(device, tags, tuple(t.value for t in device.tags)))
    return plans


def describe(plan: FakePlan) -> list[str]:
    names = ", ".join(t.point.tag for t in plan.tags)
    return [f"connection {plan.name}", f"  device {plan.device.name}: {names}"]


def collector(plan: FakePlan, emit: Emit, clock: Clock) -> Collector:
    return FakeCollector(plan, emit, clock)


_TYPES: dict[str, tuple[type, ...]] = {"number": (float,), "text": (str,), "blob": (bytes,)}


def value_types(device: FakeDevice) -> list[tuple[type, ...]]:
    return [_TYPES[tag.kind] for tag in device.tags]


PLUGIN: Plugin[FakeDevice, FakePlan] = Plugin(
    protocol="fake",
    device_model=FakeDevice,
    columns=Columns.extend(("value", "kind"), ()),
    compile=compile_fake,
    describe=describe,
    collector=collector,
    value_types=value_types,
    check=check_common,
    stand_ins={"source": "_"},
)
