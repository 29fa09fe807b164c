"""The fast path of each read request, and the last encoded response of each: a response
whose registers did not change gets the same lines again, not formatted anew (per response,
not per value)."""

from __future__ import annotations

from gateway.collectors.modbus.compile import ModbusTagPlan, ScanPlan
from gateway.collectors.modbus.extract import extract
from gateway.collectors.modbus.fastpath import (
    ResponsePlan,
    compile_response,
    decode_values,
    encode_values,
    readings,
)
from gateway.collectors.modbus.planner import ReadRequest
from gateway.model import Batch, Encoded, Sample


class ResponseCache:
    """Turns the values of a response into encoded lines (or Samples) for a batch."""

    def __init__(self, scans: tuple[ScanPlan, ...]) -> None:
        # the fast path of each request (compiled here, or when a request is split)
        self._responses: dict[int, tuple[ReadRequest[ModbusTagPlan], ResponsePlan | None]] = {
            id(r): (r, compile_response(r)) for s in scans for r in s.requests
        }
        # the last encoded response of each plan, by its registers as received
        self._last: dict[int, tuple[ResponsePlan, bytes, list[str]]] = {}

    def add(
        self,
        request: ReadRequest[ModbusTagPlan],
        values: list[int] | list[bool],
        raw: bytes,
        now: int,
        batch: Batch,
    ) -> list[Sample] | None:
        """A response with values: the plain tags' GOOD values encoded into `batch`, the
        other tags' Samples returned (all of them when the response has a non-finite
        float)."""
        known = self._responses.get(id(request))
        if known is None or known[0] is not request:  # a piece of a split request
            known = self._responses[id(request)] = (request, compile_response(request))
        plan = known[1]
        if plan is None:
            return extract(request, values, now)
        last = self._last.get(id(plan))
        if raw and last is not None and last[0] is plan and last[1] == raw:
            encoded = Encoded(now, last[2], plan.count)  # the same registers: the same lines
            decoded = None  # decoded again only if an observer asks for the readings
        else:
            decoded = decode_values(plan, values, raw)
            if decoded is None:
                return extract(request, values, now)
            encoded = encode_values(plan, decoded, now)
            if raw:
                self._last[id(plan)] = (plan, raw, encoded.heads)
        slow = extract(plan.slow, values, now) if plan.slow is not None else []
        batch.add_encoded(
            encoded,
            slow,
            lambda: readings(plan, decoded or decode_values(plan, values, raw) or (), slow, now),
        )
        return None
