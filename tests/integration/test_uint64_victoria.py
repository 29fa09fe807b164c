"""uint64 registers at and above 2**63, from a real Modbus server to a real database
(VictoriaMetrics, InfluxDB v2 write API): written with `u`, stored, never refused."""

from __future__ import annotations

import pytest

from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.pipeline import build_pipeline
from gateway.sinks import InfluxDBSink, Precision, encode_lines
from simulators.modbus_server import RegisterBank, start_modbus_server
from tests.vmserver import VictoriaMetrics

pytestmark = pytest.mark.integration

VALUES = {"max": 2**64 - 1, "half": 2**63, "small": 5}


def words(value: int) -> list[int]:
    """uint64 as four big-endian registers (ABCD)."""
    return [(value >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]


async def test_uint64_values_are_written_unsigned_and_stored(victoria: VictoriaMetrics) -> None:
    bank = RegisterBank()
    for i, value in enumerate(VALUES.values()):
        bank.unit(1).set(Space.HOLDING_REGISTER, 4 * i, words(value))
    server = await start_modbus_server(bank)
    tags = [
        {"name": name, "space": "holding_register", "address": 4 * i, "type": "uint64"}
        for i, name in enumerate(VALUES)
    ]
    device = ModbusDevice.model_validate(
        {"name": "meter", "endpoint": server.endpoint, "measurement": "energy", "tags": tags}
    )
    (plan,) = compile_connections((device,))
    connection = ModbusConnection(plan, lambda _: None)
    try:
        samples = build_pipeline(plan.scans[0].tags).apply(await connection.scan_all())
    finally:
        connection.close()
        await server.stop()
    (line,) = encode_lines(samples)
    assert "max=18446744073709551615u," in line
    assert "half=9223372036854775808u," in line
    assert "small=5u," in line

    sink = InfluxDBSink(victoria.url, "token", "org", "bucket", precision=Precision.MS)
    try:
        await sink.write([line])
    finally:
        await sink.close()
    series = await victoria.wait_for_series_async(
        lambda s: len(s) == 6, match='{__name__=~"energy_.*"}'
    )
    stored = {s["metric"]["__name__"]: s["values"] for s in series}
    # VictoriaMetrics keeps numbers as float64: exact below 2**53, the nearest float above.
    assert stored["energy_small"] == [5]
    assert stored["energy_max"] == [pytest.approx(2**64 - 1, rel=1e-15)]
    assert stored["energy_half"] == [pytest.approx(2**63, rel=1e-15)]
    assert stored["energy_max_quality"] == [0]
