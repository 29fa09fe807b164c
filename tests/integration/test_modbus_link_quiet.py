"""pymodbus builds `str()` of every response for a DEBUG message; the link's responses only
build it when pymodbus logs at DEBUG."""

from __future__ import annotations

import logging

import pytest
from pymodbus.pdu.bit_message import ReadCoilsResponse
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from gateway.collectors.modbus.link import ModbusLink
from gateway.collectors.modbus.types import Space
from simulators.modbus_server import RegisterBank, start_modbus_server

pytestmark = pytest.mark.integration


async def test_responses_are_formatted_only_for_pymodbus_debug_logs():
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [7, 8, 9])
    bank.unit(1).set(Space.COIL, 0, [1])
    server = await start_modbus_server(bank)
    host, port = server.endpoint.removeprefix("modbus+tcp://").split(":")
    link = ModbusLink(host, int(port), timeout=2, retries=0, name="t", on_closed=lambda: None)
    pymodbus_log = logging.getLogger("pymodbus.logging")
    level = pymodbus_log.level
    try:
        assert await link.connect() == ""
        pymodbus_log.setLevel(logging.WARNING)
        response = await link.read("read_holding_registers", 0, 3, 1)
        assert isinstance(response, ReadHoldingRegistersResponse)
        assert response.registers == [7, 8, 9]
        assert str(response) == "ReadHoldingRegistersResponse"  # nothing formatted
        coils = await link.read("read_coils", 0, 1, 1)
        assert isinstance(coils, ReadCoilsResponse)
        assert coils.bits[0] is True
        pymodbus_log.setLevel(logging.DEBUG)
        assert "registers=[7, 8, 9]" in str(response)  # who debugs pymodbus still sees it
    finally:
        pymodbus_log.setLevel(level)
        link.close()
        await server.stop()
