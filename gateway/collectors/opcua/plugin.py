"""The OPC UA protocol as the core sees it (registered under `opcua`).

Every plugin is imported to build the tag-map schema and the `gateway` command line, OPC UA or
not: what needs asyncua (~24 MB and 0.5 s to import) - the compile step, the checks, the
collector, the browser - is imported by the function that uses it, so a map without an OPC UA
device never loads it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gateway.clock import Clock
from gateway.collectors.base import Collector, Emit
from gateway.collectors.opcua.browseargs import HELP as BROWSE_HELP
from gateway.collectors.opcua.browseargs import add_arguments as browse_arguments
from gateway.collectors.opcua.csvcolumns import OPCUA_COLUMNS
from gateway.collectors.opcua.models import OpcuaDevice
from gateway.collectors.registry import Command, Plugin
from gateway.model import Sample

if TYPE_CHECKING:
    from gateway.collectors.opcua.compile import OpcuaPlan
    from gateway.config.checks import Found

#: what a node may give, decided by the server at run time: every type line protocol holds
#: (values.py maps each supported OPC UA type to one; others are BAD samples with the reason)
ANY_FIELD: tuple[type, ...] = (bool, int, float, str)


def describe(plan: OpcuaPlan) -> list[str]:
    """The session and its tags, as `gateway plan` prints them."""
    security = plan.security
    lines = [
        f"connection {plan.endpoint} (security {security.policy}/{security.mode}, "
        f"timeout {plan.timeout_s:g}s)"
    ]
    groups: dict[tuple[str, float], list[str]] = {}
    for tag in plan.tags:
        groups.setdefault((tag.mode.value, tag.interval_s), []).append(tag.name)
    for (mode, interval), names in groups.items():
        verb = "subscribe, publishing every" if mode == "subscribe" else "poll every"
        lines.append(f"  device {plan.device} {verb} {interval:g}s: {len(names)} tags")
        for tag in plan.tags:
            if tag.mode.value == mode and tag.interval_s == interval:
                lines.append(f"    {tag.name}: {tag.written}")
    return lines


def compile_opcua(devices: Sequence[OpcuaDevice]) -> Sequence[OpcuaPlan]:
    from gateway.collectors.opcua.compile import compile_opcua as compile_devices

    return compile_devices(devices)


def check_device(device: OpcuaDevice, positions: Sequence[int] | None = None) -> Found:
    from gateway.collectors.opcua.checks import check_device as check

    return check(device, positions)


def collector(plan: OpcuaPlan, emit: Emit, clock: Clock) -> Collector:
    from gateway.collectors.opcua.collector import OpcuaConnection

    return OpcuaConnection(plan, emit, clock)


def browse(args: argparse.Namespace) -> int:
    from gateway.collectors.opcua.browsecmd import run

    return run(args)


def sources(plan: OpcuaPlan, collector: Collector) -> Callable[[Sample], str]:
    from gateway.collectors.opcua.rawsource import sources as note_values

    return note_values(plan, collector)  # type: ignore[arg-type]  # built by `collector`


def value_types(device: OpcuaDevice) -> Sequence[tuple[type, ...]]:
    return [ANY_FIELD for _ in device.tags]


PLUGIN: Plugin[OpcuaDevice, OpcuaPlan] = Plugin(
    protocol="opcua",
    device_model=OpcuaDevice,
    columns=OPCUA_COLUMNS,
    compile=compile_opcua,
    describe=describe,
    collector=collector,
    value_types=value_types,
    check=check_device,
    stand_ins={"endpoint": "opc.tcp://_:4840"},
    commands=(Command("browse", BROWSE_HELP, browse_arguments, browse),),
    sources=sources,
)
