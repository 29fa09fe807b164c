"""Bus plans for the tests, built directly: devices compiled as usual, then put on a bus
endpoint with their own timing (what `compile` fills from the tag map's `timeout`,
`retries` and `pause`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.collectors.modbus.compile import ConnectionPlan, compile_device
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.models import ModbusDevice

#: register `10 * i` of unit `u` holds `1000 * u + i` (three blocks a scan reads separately)
BLOCKS = 3


def holding(unit: int, block: int) -> int:
    return 1000 * unit + block


def on_line(path: str, scheme: str = "modbus+rtu", baudrate: int = 19200) -> Endpoint:
    """A serial endpoint on `path`; parity N, because Linux ptys refuse the parity bits
    (EINVAL) that a real port takes."""
    return Endpoint(scheme, "", 0, path, baudrate=baudrate, parity="N")


def device(
    unit: int, *, blocks: int = BLOCKS, scan_rate: float = 0.5, **extra: Any
) -> ModbusDevice:
    """Unit `unit` as device `u<unit>`: one uint16 tag per block, one read request each."""
    tags = [
        {"name": f"r{i}", "space": "holding_register", "address": 10 * i, "type": "uint16"}
        for i in range(blocks)
    ]
    fields: dict[str, Any] = {
        "name": f"u{unit}",
        "endpoint": "modbus+tcp://bus.invalid:502",  # replaced by the bus endpoint below
        "unit_id": unit,
        "max_gap": 0,
        "scan_rate": scan_rate,
        "measurement": "cell",
        "tags": tags,
    }
    fields.update(extra)
    return ModbusDevice.model_validate(fields)


def bus_plan(
    endpoint: Endpoint,
    devices: list[ModbusDevice],
    *,
    timeout: float = 0.3,
    retries: int = 0,
    pause: float = 0.0,
    timing: dict[str, tuple[float, int, float]] | None = None,
) -> ConnectionPlan:
    """One bus with `devices`; each with `timing[name]` (timeout, retries, pause) or the
    common values."""
    scans = []
    for dev in devices:
        t, r, p = (timing or {}).get(dev.name, (timeout, retries, pause))
        scans += [
            dataclasses.replace(s, timeout_s=t, retries=r, pause_s=p) for s in compile_device(dev)
        ]
    return ConnectionPlan(
        endpoint=endpoint,
        timeout_s=max(s.timeout_s for s in scans),
        retries=max(s.retries for s in scans),
        devices=tuple(d.name for d in devices),
        scans=tuple(scans),
    )
