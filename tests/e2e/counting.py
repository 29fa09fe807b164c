"""A Modbus server whose counter tag counts the reads it served, and the tag map that reads it:
a gap or a repeat in the counter series a gateway wrote means a lost or duplicated sample."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.collectors.modbus.types import Space
from simulators.modbus_server import RegisterBank
from tests.vmserver import by_name


class CountingBank(RegisterBank):
    """Holding registers 0-1 hold a uint32 that counts the reads served; each read's time is
    recorded, so the test knows exactly which value was read when."""

    def __init__(self) -> None:
        super().__init__()
        self.read_times_ns: list[int] = []
        unit = self.unit(1)
        unit.set(Space.HOLDING_REGISTER, 0, [0, 0])
        unit.set(Space.INPUT_REGISTER, 0, [0x0000, 0x411C])  # 9.75 as float32 CDAB
        unit.set(Space.INPUT_REGISTER, 2, [0x5072, 0x4E64])  # "PrNd"

    @property
    def served(self) -> int:
        return len(self.read_times_ns)

    async def async_getValues(self, device_id, func_code, address, count=1):
        if func_code == 3:
            served = len(self.read_times_ns) + 1
            self.unit(1).set(Space.HOLDING_REGISTER, 0, [served >> 16, served & 0xFFFF])
            self.read_times_ns.append(time.time_ns())
        return await super().async_getValues(device_id, func_code, address, count)


def tag_map(
    path: Path,
    endpoint: str,
    data_dir: Path,
    extra: str = "",
    commit_interval: str = "200ms",
    drain_timeout: str = "10s",
    health: str = "{port: 0}",
) -> Path:
    """The counter (every 200 ms), a float and a string (every second); InfluxDB from the
    environment plus a file sink under `data_dir`; `extra` adds top-level sections. The health
    endpoint is off unless `health` names a port: a gateway or plant running on this machine
    holds the default one, and the suite must pass beside it."""
    path.write_text(
        f"""
devices:
  - name: cell07
    endpoint: {endpoint}
    unit_id: 1
    timeout: 5s     # generous and without retries: one served read is exactly one sample,
    retries: 0      # even on a loaded machine (a retried read would skip a counter value)
    scan_rate: 200ms
    measurement: cell
    metadata: {{site: baotou, potline: "1"}}
    tags:
      - {{name: reads, space: holding_register, address: 0, type: uint32}}
      - {{name: voltage, space: input_register, address: 0, type: float32, byte_order: CDAB,
          unit: V, scan: 1s}}
      - {{name: product, space: input_register, address: 2, type: string, length: 2, scan: 1s}}
sinks:
  precision: ms
  flush_interval: 200ms
  influxdb: {{}}
  file: {{directory: {data_dir}}}
buffer:
  directory: {data_dir}/buffer
  commit_interval: {commit_interval}
  drain_timeout: {drain_timeout}
health: {health}
{extra}
"""
    )
    return path


def influx_env(victoria) -> dict[str, str]:
    return {
        "INFLUXDB_V2_URL": victoria.url,
        "INFLUXDB_V2_TOKEN": "test-token",
        "INFLUXDB_V2_ORG": "plant",
        "INFLUXDB_V2_BUCKET": "historian",
    }


def counter(series) -> tuple[list[float], list[int]]:
    """(values, timestamps) of the counter, with points repeated at the same timestamp and
    value collapsed (InfluxDB keeps one point per series and timestamp, so a batch sent twice
    is stored once; VictoriaMetrics would keep both)."""
    reads = by_name(series).get("cell_reads", {"values": [], "timestamps": []})
    pairs = sorted(set(zip(reads["timestamps"], reads["values"], strict=True)))
    return [v for _, v in pairs], [t for t, _ in pairs]
