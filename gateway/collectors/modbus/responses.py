"""The read responses the link registers with its pymodbus client, in place of pymodbus's own.

Two things pymodbus 3.16 does per response that cost more than they give:

- its decoder passes `str()` of every response (all its registers) to a DEBUG message that is
  dropped unless pymodbus logs at DEBUG: here `str()` is only built then;
- a register response is decoded with one `struct.unpack` per register: here with one for
  all of them, and the raw bytes are kept (`raw`, the registers big-endian, as on the wire),
  which the fast path unpacks directly instead of packing the registers again.

The classes keep pymodbus's names and fields (`registers`, `bits`), and are subclasses of its
own, so `isinstance` and every attribute work as before.
"""

from __future__ import annotations

import logging
import struct
from typing import Any

from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsResponse, ReadDiscreteInputsResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
)

__all__ = ["RESPONSES", "raw_registers"]

_PYMODBUS_LOG = logging.getLogger("pymodbus.logging")  # pymodbus's own `Log`


def _str(base: type[ModbusPDU]) -> Any:
    full = base.__str__

    def __str__(self: ModbusPDU) -> str:
        return full(self) if _PYMODBUS_LOG.isEnabledFor(logging.DEBUG) else base.__name__

    return __str__


def _decode_registers(self: Any, data: bytes) -> None:
    """As pymodbus decodes a register response, with one unpack; keeps the raw bytes."""
    size = int(data[0])
    if size >= len(data):
        raise ModbusIOException(
            f"byte_count {size} > length of packet {len(data)}", function_code=self.function_code
        )
    if size % 2:  # not a whole number of registers: as pymodbus does it
        ReadHoldingRegistersResponse.decode(self, data)
        return
    self.raw = bytes(data[1 : 1 + size])
    self.registers = list(struct.unpack(f">{size // 2}H", self.raw))


def _response(base: type[ModbusPDU]) -> type[ModbusPDU]:
    members: dict[str, Any] = {"__str__": _str(base), "__module__": __name__, "raw": b""}
    if issubclass(base, ReadHoldingRegistersResponse):
        members["decode"] = _decode_registers
    return type(base.__name__, (base,), members)


RESPONSES = tuple(
    _response(r)
    for r in (
        ReadCoilsResponse,
        ReadDiscreteInputsResponse,
        ReadHoldingRegistersResponse,
        ReadInputRegistersResponse,
    )
)


def raw_registers(response: object) -> bytes:
    """The registers of a response big-endian, as received; b"" when not kept."""
    raw = getattr(response, "raw", b"")
    return raw if isinstance(raw, bytes) else b""
