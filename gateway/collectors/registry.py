"""The protocols the gateway speaks, keyed by the `protocol` of a device.

Each protocol is a `Plugin`: its device model, CSV columns, checks, compile step, plan
description and collector factory. The core (config loader, runtime, CLI, telemetry) reaches a
protocol only through here, so it never imports a protocol's module. The built-in plugins are
imported by module name on first use (like Telegraf's plugins/all); a test or an extension
adds one with `register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, Union

from pydantic import Discriminator, Tag

from gateway.clock import Clock
from gateway.collectors.base import Collector, ConnectionPlan, Emit
from gateway.model import Point, Sample

if TYPE_CHECKING:  # the config loader imports this module: no import back at run time
    import argparse

    from gateway.config.checks import Found
    from gateway.config.csvtags import Columns
    from gateway.config.models import DeviceFields

#: modules that define `PLUGIN`, imported on first use
BUILTIN = ("gateway.collectors.modbus.plugin", "gateway.collectors.opcua.plugin")
#: the protocol of a device that does not say
DEFAULT_PROTOCOL = "modbus"

D = TypeVar("D", bound="DeviceFields")
P = TypeVar("P", bound=ConnectionPlan)


def _no_findings(device: Any, positions: Sequence[int] | None = None) -> Found:
    return []


def _nothing_across(devices: Sequence[Any]) -> Sequence[tuple[int, Found]]:
    return []


def _nothing_noted(plan: Any, collector: Any) -> Callable[[Sample], str]:
    return lambda sample: ""


def _no_command(plan: Any, point: Point) -> str:
    return ""


@dataclass(frozen=True)
class Command:
    """A subcommand a protocol adds to `gateway` (e.g. OPC UA's `browse`): `add_arguments`
    fills its argparse parser, `run` does the work and returns the exit code."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Plugin(Generic[D, P]):
    """Everything the core needs of one protocol.

    `check` and `warn` take a validated device and, for a device checked without its invalid
    tags, `positions[i]` = the input index of `device.tags[i]`; they return (path relative to
    the device, message). `value_types(device)` gives, per tag (same order as `device.tags`),
    the Python types its raw values can have; anything but bool, int, float and str
    (`sinks.lineprotocol.ENCODABLE`) is refused at load.
    `compile` turns the enabled devices of this protocol (all files) into connection plans;
    `describe` is the text of one plan for `gateway plan`; `collector` builds the collector.
    """

    protocol: str
    device_model: type[D]
    columns: Columns
    compile: Callable[[Sequence[D]], Sequence[P]]
    describe: Callable[[P], list[str]]
    collector: Callable[[P, Emit, Clock], Collector]
    value_types: Callable[[D], Sequence[tuple[type, ...]]]
    check: Callable[[D, Sequence[int] | None], Found] = _no_findings
    warn: Callable[[D, Sequence[int] | None], Found] = _no_findings
    #: checks across the valid devices of this protocol (all files), e.g. two devices with
    #: one unit id on a serial line: (index in the sequence given, findings of that device)
    check_across: Callable[[Sequence[D]], Sequence[tuple[int, Found]]] = _nothing_across
    #: likewise, warnings (e.g. the scans of one serial line do not fit its baud rate)
    warn_across: Callable[[Sequence[D]], Sequence[tuple[int, Found]]] = _nothing_across
    #: values that stand in for required fields when the valid part of a broken device is
    #: checked (e.g. {"endpoint": "modbus+tcp://_"})
    stand_ins: Mapping[str, Any] = field(default_factory=dict)
    #: subcommands of its own (`gateway browse` for OPC UA, `gateway probe` for Modbus)
    commands: Sequence[Command] = ()
    #: `gateway once --raw`: set up a collector built for `once` (before its scan) to note
    #: what each reading was decoded from; returns what to say of one of its raw samples
    #: (Modbus: the registers, OPC UA: the variant type and status code; "" when unknown)
    sources: Callable[[Any, Any], Callable[[Sample], str]] = _nothing_noted
    #: `gateway once`'s hint for an implausible value: the command that shows the raw data
    #: of a tag of the plan (Modbus: its `gateway probe`), "" when the protocol has none
    inspect_command: Callable[[Any, Point], str] = _no_command


_plugins: dict[str, Plugin[Any, Any]] = {}
_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN:
        plugin = importlib.import_module(module).PLUGIN
        _plugins.setdefault(plugin.protocol, plugin)


def register(plugin: Plugin[Any, Any]) -> None:
    """Add a protocol (replacing one of the same name)."""
    _load_builtin()
    _plugins[plugin.protocol] = plugin


def unregister(protocol: str) -> None:
    """Remove a protocol (tests)."""
    _plugins.pop(protocol, None)


def known() -> list[str]:
    """The registered protocols, sorted."""
    _load_builtin()
    return sorted(_plugins)


def plugin(protocol: str) -> Plugin[Any, Any]:
    """The plugin of `protocol`; KeyError naming the known ones if there is none."""
    _load_builtin()
    found = _plugins.get(protocol)
    if found is None:
        raise KeyError(f"unknown protocol {protocol!r} (known: {', '.join(known())})")
    return found


def commands() -> list[Command]:
    """The subcommands of every protocol, by protocol name; a name taken twice is kept once."""
    found: dict[str, Command] = {}
    for name in known():
        for command in _plugins[name].commands:
            found.setdefault(command.name, command)
    return list(found.values())


def protocol_of(device: Any) -> str:
    """The discriminator of the device union: `protocol`, `modbus` when absent."""
    if isinstance(device, Mapping):
        value = device.get("protocol", DEFAULT_PROTOCOL)
        return value if isinstance(value, str) else repr(value)
    return str(getattr(device, "protocol", DEFAULT_PROTOCOL))


def device_union() -> Any:
    """The device models of every protocol as a pydantic union discriminated on `protocol`
    (the tag-map schema's `devices` items; one model when only one protocol exists)."""
    models = [(name, _plugins[name].device_model) for name in known()]
    if len(models) == 1:
        return models[0][1]
    members = tuple(Annotated[model, Tag(name)] for name, model in models)
    return Annotated[Union[members], Discriminator(protocol_of)]  # noqa: UP007


def compile_all(devices: Iterable[DeviceFields]) -> tuple[ConnectionPlan, ...]:
    """Every protocol's connection plans, protocols in order of their first device."""
    grouped: dict[str, list[DeviceFields]] = {}
    for device in devices:
        grouped.setdefault(device.protocol, []).append(device)
    return tuple(plan for name, group in grouped.items() for plan in plugin(name).compile(group))


def build_collector(plan: ConnectionPlan, emit: Emit, clock: Clock) -> Collector:
    """The collector of `plan`, built by its protocol's plugin."""
    return plugin(plan.protocol).collector(plan, emit, clock)


def sources(plan: ConnectionPlan, collector: Collector) -> Callable[[Sample], str]:
    """`gateway once --raw`: what each raw sample of `collector` was decoded from."""
    return plugin(plan.protocol).sources(plan, collector)


def inspect_command(plan: ConnectionPlan, point: Point) -> str:
    """The command that shows the raw data of the tag of `point` ("" when there is none)."""
    return plugin(plan.protocol).inspect_command(plan, point)


def describe(plan: ConnectionPlan) -> list[str]:
    """The lines `gateway plan` prints for `plan`."""
    return plugin(plan.protocol).describe(plan)
