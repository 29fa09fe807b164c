"""The simulated PLC's RTU answers: a request frame in, an answer frame out (or none), over a
RegisterBank. pymodbus decodes the request and executes it on the bank (`datastore_update`),
so the unit faults, exception codes and write hooks of the TCP server apply unchanged; the
corruption fault damages the answer after its CRC is computed."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU

from simulators.modbus_server import BroadcastBank, RegisterBank, UnitSilent
from simulators.rtu_frames import damage

_BROADCAST_WRITES = {5, 6, 15, 16}


@dataclass
class RtuStats:
    answered: int = 0  # answer frames sent (damaged ones included)
    corrupted: int = 0


class RtuResponder:
    """Request frames in, answer frames out (None: no answer), over a RegisterBank."""

    def __init__(self, bank: RegisterBank, corrupt: float = 0.0, seed: int = 0) -> None:
        self.bank = bank
        self.corrupt = corrupt
        self.rng = random.Random(seed)
        self.stats = RtuStats()
        self._decoder = DecodePDU(True)
        self._framer = FramerRTU(DecodePDU(True))

    async def answer(self, frame: bytes) -> bytes | None:
        unit = frame[0]
        if unit != 0 and unit not in self.bank.units:
            return None  # nobody at that address on the line
        pdu = self._decoder.decode(frame[1:-2])
        if unit == 0:  # broadcast: writes reach every unit at once, nobody answers
            if pdu is not None and pdu.function_code in _BROADCAST_WRITES:
                everyone = BroadcastBank(self.bank)
                for unit_id in self.bank.device_ids():
                    await self._execute(pdu, unit_id, everyone)
            return None
        if pdu is None:
            response: ModbusPDU | None = ExceptionResponse(
                frame[1] & 0x7F, ExcCodes.ILLEGAL_FUNCTION
            )
        else:
            response = await self._execute(pdu, unit, self.bank)
        if response is None:
            return None  # a silent unit
        response.dev_id = unit
        out = self._framer.buildFrame(response)
        self.stats.answered += 1
        if self.corrupt and self.rng.random() < self.corrupt:
            self.stats.corrupted += 1
            out = damage(out, self.rng)
        return out

    async def _execute(
        self, pdu: ModbusPDU, unit: int, bank: RegisterBank | BroadcastBank
    ) -> ModbusPDU | None:
        try:
            return await pdu.datastore_update(bank, unit)  # type: ignore[arg-type]
        except UnitSilent:
            return None
        except NoSuchIdException:
            return ExceptionResponse(pdu.function_code, ExcCodes.GATEWAY_NO_RESPONSE)
        except Exception:  # the datastore failed: answer like a PLC would
            return ExceptionResponse(pdu.function_code, ExcCodes.DEVICE_FAILURE)
