"""End to end: `gateway run` (a real process) polls a real Modbus server and writes into a real
VictoriaMetrics through the InfluxDB v2 write API; the test reads the series back."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from gateway.collectors.modbus.types import Space
from gateway.sinks.lineprotocol import parse_line
from simulators.modbus_server import RegisterBank, start_modbus_server
from tests.processes import start_gateway
from tests.vmserver import by_name

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


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

    async def async_getValues(self, device_id, func_code, address, count=1):
        if func_code == 3:
            served = len(self.read_times_ns) + 1
            self.unit(1).set(Space.HOLDING_REGISTER, 0, [served >> 16, served & 0xFFFF])
            self.read_times_ns.append(time.time_ns())
        return await super().async_getValues(device_id, func_code, address, count)


def tag_map(path: Path, endpoint: str, data_dir: Path) -> Path:
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


async def test_run_writes_exact_values_and_read_timestamps(victoria, tmp_path):
    bank = CountingBank()
    server = await start_modbus_server(bank)
    try:
        path = tag_map(tmp_path / "plant.yaml", server.endpoint, tmp_path / "data")
        proc = await start_gateway("run", str(path), "--duration", "3", env=influx_env(victoria))
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await server.stop()
    assert proc.returncode == 0, err.decode()

    series = await victoria.wait_for_series_async(
        lambda s: (
            len(by_name(s).get("cell_reads", {}).get("values", [])) == len(bank.read_times_ns)
        ),
        30,
    )
    got = by_name(series)
    reads = got["cell_reads"]
    n = len(bank.read_times_ns)
    assert n >= 10  # 3 s at 200 ms
    # every read arrived, in order, nothing lost or duplicated
    assert reads["values"] == list(range(1, n + 1))
    assert reads["metric"] == {
        "__name__": "cell_reads",
        "device": "cell07",
        "site": "baotou",
        "potline": "1",
    }
    # each value is stamped when its read was answered: within 50 ms after the server served it
    for stamp_ms, served_ns in zip(reads["timestamps"], bank.read_times_ns, strict=True):
        assert served_ns // 1_000_000 <= stamp_ms <= served_ns // 1_000_000 + 50
    assert set(got["cell_voltage"]["values"]) == {9.75}
    assert set(got["cell_reads_quality"]["values"]) == {0}
    assert got["cell_voltage"]["timestamps"] == got["cell_product"]["timestamps"]

    # the file sink got the very same lines
    files = list((tmp_path / "data").glob("*.lp"))
    lines = [ln for f in files for ln in f.read_text().splitlines()]
    file_reads = [
        (fields["reads"], ts) for _, _, fields, ts in map(parse_line, lines) if "reads" in fields
    ]
    assert file_reads == list(zip(reads["values"], reads["timestamps"], strict=True))
    products = {f["product"] for _, _, f, _ in map(parse_line, lines) if "product" in f}
    assert products == {"PrNd"}


async def test_sigterm_flushes_and_exits_zero(victoria, tmp_path):
    bank = CountingBank()
    server = await start_modbus_server(bank)
    try:
        path = tag_map(tmp_path / "plant.yaml", server.endpoint, tmp_path / "data")
        proc = await start_gateway("run", str(path), env=influx_env(victoria))
        await victoria.wait_for_series_async(lambda s: "cell_reads" in by_name(s), 30)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        served = len(bank.read_times_ns)
    finally:
        await server.stop()
    assert proc.returncode == 0, err.decode()
    series = await victoria.wait_for_series_async(
        lambda s: len(by_name(s)["cell_reads"]["values"]) == served, 30
    )
    assert by_name(series)["cell_reads"]["values"] == list(range(1, served + 1))


async def test_check_reports_errors_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "devices:\n"
        "  - name: cell01\n"
        "    endpoint: modbus+tcp://127.0.0.1:5020\n"
        "    tags:\n"
        "      - {name: v, space: input_register, adress: 3}\n"
    )
    proc = await start_gateway("check", str(bad))
    _out, err = await proc.communicate()
    assert proc.returncode == 2
    text = err.decode()
    assert "Traceback" not in text
    assert f"{bad}:5 devices[0].tags[0]" in text
    assert "adress" in text
