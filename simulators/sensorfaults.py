"""Data-quality faults: what a failing sensor or a misbehaving PLC reports, not what the
plant does. Pure and seeded; the Modbus and the OPC UA PLC share one `SensorFaults`, so both
serve the same wrong value, and the physics (and the ground-truth record) keep the true one.

A fault is `KIND:DEVICE.TAG[,NAME=VALUE...]` (`clock_skew` takes a DEVICE), e.g.
`drift:cell01.bath_temp,rate=2` or `clock_skew:rectifier,offset=-90s,drift=36`:

| kind | settings | reported value |
|---|---|---|
| drift | rate (unit per hour) | true + rate x hours since onset |
| stuck | value (default: the reading at onset) | constant, freshly time-stamped |
| frozen | | the reading at onset; OPC UA keeps its old timestamp, status Good |
| spike | size (unit), every (mean interval, default 10m) | true + size for one second |
| noise | sigma (unit) | true + gaussian noise |
| clock_skew | offset (+/- duration), drift (s per hour) | OPC UA SourceTimestamp shifted |
| counter_reset | | counts again from 0 at onset |
| counter_wrap | bits (default and most: the tag's width), offset | (true + offset) mod 2**bits |

Every kind also takes `for` (a duration): the fault ends by itself after it. Random draws
are a hash of (seed, fault, second), so they do not depend on how often a PLC publishes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config.durations import parse_duration
from simulators.catalog import CATALOG, Kind
from simulators.registermap import REGISTERS

Value = int | float | bool | str

# kind -> {setting: required?}; "for" is accepted by every kind
SETTINGS: dict[str, dict[str, bool]] = {
    "drift": {"rate": True},
    "stuck": {"value": False},
    "frozen": {},
    "spike": {"size": True, "every": False},
    "noise": {"sigma": True},
    "clock_skew": {"offset": False, "drift": False},
    "counter_reset": {},
    "counter_wrap": {"bits": False, "offset": False},
}
KINDS = tuple(SETTINGS)
_FLOAT_ONLY = {"drift", "spike", "noise"}
_COUNTERS = {"counter_reset", "counter_wrap"}


def _number(text: object, name: str) -> float:
    try:
        number = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}={text!r} is not a finite number")
    return number


def _seconds(text: object, name: str, signed: bool = False) -> float:
    spelled = str(text).strip()
    sign = -1.0 if signed and spelled.startswith("-") else 1.0
    try:
        return sign * parse_duration(spelled.removeprefix("-") if signed else text)
    except ValueError as exc:
        raise ValueError(f"{name}={text!r}: {exc}") from None


def parse_settings(kind: str, settings: Mapping[str, object]) -> dict[str, float]:
    """Check and convert a fault's settings; ValueError naming the setting and the problem."""
    known = SETTINGS[kind]
    parsed: dict[str, float] = {}
    for name, text in settings.items():
        if name != "for" and name not in known:
            allowed = ", ".join([*known, "for"])
            raise ValueError(f"{kind}: unknown setting {name!r} (known: {allowed})")
        if name == "for" or name == "every":
            parsed[name] = _seconds(text, name)
            if parsed[name] <= 0:
                raise ValueError(f"{kind}: {name}={text!r} must be longer than 0 s")
        elif kind == "clock_skew" and name == "offset":
            parsed[name] = _seconds(text, name, signed=True)
        else:
            parsed[name] = _number(text, name)
    missing = [name for name, required in known.items() if required and name not in parsed]
    if missing:
        raise ValueError(f"{kind}: the setting {missing[0]}= is needed")
    bits = parsed.get("bits", 32.0) if kind == "counter_wrap" else 32.0
    if bits != int(bits) or not 1 <= bits <= 64:
        raise ValueError(f"{kind}: bits={bits:g} must be a whole number from 1 to 64")
    return parsed


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """`KIND:TARGET,NAME=VALUE,...` -> (kind, target, raw settings); ValueError if malformed."""
    kind, _, rest = spec.partition(":")
    if kind not in SETTINGS:
        raise ValueError(f"unknown data-quality fault {kind!r} (known: {', '.join(KINDS)})")
    target, *items = rest.split(",")
    settings: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"{kind}: setting {item!r} is not NAME=VALUE")
        settings[name.strip()] = value.strip()
    return kind, target.strip(), settings


_DTYPE_BITS = {"int16": 15, "uint16": 16, "uint32": 32, "uint64": 64}  # counts >= 0
OPCUA_COUNTER_BITS = 32  # a catalog INT is a UInt32 node (opcua_nodes.VARIANT)


def counter_bits(kind: str, tag: str) -> int:
    """The width a counter is served with on both protocols: its Modbus register's (a U16
    counter saturates at 65535 there, so a wrap must come before), at most OPC UA's 32."""
    reg = next((r for r in REGISTERS[kind] if r.tag == tag), None)
    width = _DTYPE_BITS.get(reg.dtype.value, OPCUA_COUNTER_BITS) if reg else OPCUA_COUNTER_BITS
    return min(width, OPCUA_COUNTER_BITS)


def _uniforms(key: str, second: int) -> tuple[float, float]:
    digest = hashlib.blake2b(f"{key}/{second}".encode(), digest_size=16).digest()
    first, second_ = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")
    return (first + 0.5) / 2**64, (second_ + 0.5) / 2**64


@dataclass(slots=True)
class _Fault:
    kind: str
    settings: dict[str, float]
    start: float
    key: str
    held: Value | None = None  # the reading at onset (stuck, frozen, counter_reset)
    extra: dict[str, float] = field(default_factory=dict)

    def active(self, t: float) -> bool:
        end = self.start + self.settings["for"] if "for" in self.settings else math.inf
        return self.start - 1e-9 <= t < end - 1e-9

    def apply(self, value: Value, t: float) -> Value:
        s, kind = self.settings, self.kind
        if kind in ("stuck", "frozen", "counter_reset") and self.held is None:
            self.held = s.get("value", value) if kind == "stuck" else value
        if kind == "drift":
            return float(value) + s["rate"] * (t - self.start) / 3600.0
        if kind in ("stuck", "frozen"):
            assert self.held is not None
            return self.held
        second = math.floor(t + 1e-9)
        if kind == "spike":
            chance, _ = _uniforms(self.key, second)
            hit = chance < 1.0 / s.get("every", 600.0)
            return float(value) + s["size"] if hit else value
        if kind == "noise":
            u1, u2 = _uniforms(self.key, second)
            gauss = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
            return float(value) + s["sigma"] * gauss
        if kind == "counter_reset":
            return max(0, int(value) - int(self.held))  # type: ignore[arg-type]
        if kind == "counter_wrap":
            return (int(value) + int(s.get("offset", 0.0))) % 2 ** int(s.get("bits", 32.0))
        return value


class SensorFaults:
    """The data-quality faults active on a plant's tags, applied to what the PLCs serve."""

    def __init__(self, kinds: Mapping[str, str], seed: int = 0) -> None:
        self.kinds = dict(kinds)  # device -> catalog kind ("cell", "feeder", "rectifier")
        self.seed = seed
        self._faults: dict[tuple[str, str], list[_Fault]] = {}  # (device, tag) -> faults
        self._clocks: dict[str, _Fault] = {}  # device -> clock_skew

    def _check(self, kind: str, target: str) -> tuple[str, str]:
        if not target:
            where = "DEVICE" if kind == "clock_skew" else "DEVICE.TAG"
            raise ValueError(f"{kind}: a target is needed ({kind}:{where})")
        device, _, tag = target.partition(".")
        if device not in self.kinds:
            raise ValueError(f"{kind}: no device {device!r} in this plant")
        if kind == "clock_skew":
            if tag:
                raise ValueError(f"clock_skew: the target is a device, not {target!r}")
            return device, ""
        tags = {t.name: t for t in CATALOG[self.kinds[device]]}
        if tag not in tags:
            raise ValueError(f"{kind}: {device} has no tag {tag!r} (target is DEVICE.TAG)")
        tagdef = tags[tag]
        if tagdef.writable or tagdef.kind is Kind.TEXT:
            raise ValueError(f"{kind}: {target} is a command or text, not a measurement")
        if kind in _FLOAT_ONLY and tagdef.kind is not Kind.FLOAT:
            raise ValueError(f"{kind}: {target} is not an analogue (float) tag")
        if kind in _COUNTERS and tagdef.kind is not Kind.INT:
            raise ValueError(f"{kind}: {target} is not a counter")
        return device, tag

    def check(self, kind: str, target: str | None, settings: Mapping[str, object]) -> None:
        """Raise ValueError for a fault that `inject` would refuse (scenarios check early)."""
        if kind not in SETTINGS:
            raise ValueError(f"unknown data-quality fault {kind!r} (known: {', '.join(KINDS)})")
        device, tag = self._check(kind, target or "")
        parsed = parse_settings(kind, settings)
        if kind == "counter_wrap":
            width = counter_bits(self.kinds[device], tag)
            if parsed.get("bits", width) > width:
                raise ValueError(
                    f"counter_wrap: bits={parsed['bits']:g} is wider than {target}'s "
                    f"{width}-bit register (bits 1 to {width})"
                )

    def inject(
        self, kind: str, target: str | None, settings: Mapping[str, object], t: float
    ) -> None:
        """Start a fault at plant time `t` (replacing one of the same kind on the target)."""
        self.check(kind, target, settings)
        device, tag = self._check(kind, target or "")
        key = f"{self.seed}/{kind}/{target}"
        parsed = parse_settings(kind, settings)
        if kind == "counter_wrap":  # both PLCs wrap where the narrower register would
            parsed.setdefault("bits", float(counter_bits(self.kinds[device], tag)))
        fault = _Fault(kind, parsed, t, key)
        if kind == "clock_skew":
            self._clocks[device] = fault
            return
        faults = [f for f in self._faults.get((device, tag), []) if f.kind != kind]
        self._faults[(device, tag)] = [*faults, fault]

    def clear(self, kind: str, target: str | None) -> None:
        """End a fault (clearing one that is not active does nothing)."""
        if kind not in SETTINGS:
            raise ValueError(f"unknown data-quality fault {kind!r} (known: {', '.join(KINDS)})")
        device, tag = self._check(kind, target or "")
        if kind == "clock_skew":
            self._clocks.pop(device, None)
            return
        left = [f for f in self._faults.get((device, tag), []) if f.kind != kind]
        if left:
            self._faults[(device, tag)] = left
        else:
            self._faults.pop((device, tag), None)

    def reported(self, device: str, values: Mapping[str, Any], t: float) -> Mapping[str, Any]:
        """The values a PLC serves at plant time `t` (`values` itself when nothing is faulted)."""
        if not self._faults:
            return values
        touched = [(tag, fs) for (d, tag), fs in self._faults.items() if d == device]
        if not touched:
            return values
        out = dict(values)
        for tag, faults in touched:
            for fault in faults:
                if fault.active(t):
                    out[tag] = fault.apply(out[tag], t)
        return out

    def active(self, device: str, tag: str, t: float) -> bool:
        """True while any fault acts on the tag."""
        return any(f.active(t) for f in self._faults.get((device, tag), ()))

    def _kind_active(self, device: str, tag: str, kind: str, t: float) -> bool:
        faults = self._faults.get((device, tag), ())
        return any(f.kind == kind and f.active(t) for f in faults)

    def stuck(self, device: str, tag: str, t: float) -> bool:
        """True while the tag is re-stamped at every publish although its value is constant."""
        return self._kind_active(device, tag, "stuck", t)

    def clock_offset(self, device: str, t: float) -> float:
        """Seconds the device's OPC UA source timestamps are off at plant time `t`."""
        fault = self._clocks.get(device)
        if fault is None or not fault.active(t):
            return 0.0
        s = fault.settings
        return s.get("offset", 0.0) + s.get("drift", 0.0) * (t - fault.start) / 3600.0

    def faulted(self, device: str) -> list[str]:
        """The device's tags that carry a fault now or later (for the recorder)."""
        return [tag for (d, tag) in self._faults if d == device]
