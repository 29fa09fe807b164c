"""The OPC UA protocol as the core sees it (registered under `opcua`)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.clock import Clock
from gateway.collectors.base import Collector, Emit
from gateway.collectors.opcua.browsecmd import COMMAND as BROWSE
from gateway.collectors.opcua.checks import check_device
from gateway.collectors.opcua.collector import OpcuaConnection
from gateway.collectors.opcua.compile import OpcuaPlan, compile_opcua
from gateway.collectors.opcua.csvcolumns import OPCUA_COLUMNS
from gateway.collectors.opcua.models import OpcuaDevice
from gateway.collectors.registry import Plugin

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


def collector(plan: OpcuaPlan, emit: Emit, clock: Clock) -> Collector:
    return OpcuaConnection(plan, emit, clock)


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
    commands=(BROWSE,),
)
