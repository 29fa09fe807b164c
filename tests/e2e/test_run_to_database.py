"""End to end: `gateway run` (a real process) polls a real Modbus server and writes into a real
VictoriaMetrics through the InfluxDB v2 write API; the test reads the series back."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from gateway.sinks.lineprotocol import parse_line
from simulators.modbus_server import start_modbus_server
from tests.e2e.counting import CountingBank, influx_env, tag_map
from tests.processes import start_gateway
from tests.vmserver import by_name

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


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
    # each value is stamped when its read was answered: after the server served it (and within
    # 500 ms, generous for a loaded machine; a value taken from an earlier read would be >= 200 ms
    # before it, one scan period)
    for stamp_ms, served_ns in zip(reads["timestamps"], bank.read_times_ns, strict=True):
        assert served_ns // 1_000_000 <= stamp_ms <= served_ns // 1_000_000 + 500
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
