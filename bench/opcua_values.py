"""OPC UA per-value cost: StatusCode -> quality and Variant -> value, against bare attribute access.

    python -m bench.opcua_values

100,000 DataValues as asyncua decodes them (Double, UInt64, String, LocalizedText, DateTime;
all Good, and a mix with 10% Bad). "bare" reads what any handler must read (dv.Value.Value and
dv.StatusCode); "convert" does what the collector does per value: quality_of(dv.StatusCode)
and the node's converter chosen at start; "reader" does both in one call (values.reader),
as the glue is meant to. CPU time, best of 5; printed, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

from gateway.collectors.opcua.status import quality_of
from gateway.collectors.opcua.values import Converter, converter, reader

N = 100_000
VT = ua.VariantType
GOOD = ua.StatusCode()
BAD = ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure))
CASES: dict[str, tuple[ua.VariantType, object]] = {
    "Double": (VT.Double, 1234.5),
    "UInt64": (VT.UInt64, 2**64 - 1),
    "String": (VT.String, "running"),
    "LocalizedText": (VT.LocalizedText, ua.LocalizedText("Normal", "en-US")),
    "DateTime": (VT.DateTime, datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
}


CONVERTERS: dict[Converter, ua.VariantType] = {}


def values(vtype: ua.VariantType, value: object, bad_every: int = 0) -> list[ua.DataValue]:
    out = []
    for index in range(N):
        bad = bad_every and index % bad_every == 0
        variant = ua.Variant() if bad else ua.Variant(value, vtype)
        out.append(ua.DataValue(variant, StatusCode=BAD if bad else GOOD))
    return out


def bare(dvs: list[ua.DataValue], _convert: Converter) -> None:
    for dv in dvs:
        _ = dv.StatusCode
        _ = dv.Value.Value  # type: ignore[union-attr]


def convert(dvs: list[ua.DataValue], convert: Converter) -> None:
    for dv in dvs:
        quality, _reason = quality_of(dv.StatusCode)
        if quality != 2:  # BAD: no value is converted
            _ = convert(dv.Value)


def read_all(dvs: list[ua.DataValue], convert: Converter) -> None:
    read = reader(CONVERTERS[convert])
    for dv in dvs:
        _ = read(dv)


def best(
    run: Callable[[list[ua.DataValue], Converter], None], dvs: list[ua.DataValue], c: Converter
) -> float:
    times = []
    for _ in range(5):
        start = time.process_time()
        run(dvs, c)
        times.append(time.process_time() - start)
    return min(times) / N * 1e9


def decode_cost() -> float:
    """ns per value asyncua spends decoding a Good Double DataValue (context for the above)."""
    data = struct_to_binary(ua.DataValue(ua.Variant(1234.5, VT.Double), StatusCode=GOOD))
    times = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(N):
            struct_from_binary(ua.DataValue, Buffer(data))
        times.append(time.process_time() - start)
    return min(times) / N * 1e9


def main() -> None:
    print("ns per value (CPU); convert = quality_of + converter, reader = values.reader")
    print(f"{'values':<22}{'bare':>9}{'convert':>12}{'ratio':>7}{'reader':>12}{'ratio':>7}")
    for name, (vtype, value) in CASES.items():
        for bad_every, label in ((0, name), (10, f"{name} 10% Bad")):
            dvs = values(vtype, value, bad_every)
            conv = converter(vtype)
            CONVERTERS[conv] = vtype
            base, ours, one = (
                best(bare, dvs, conv),
                best(convert, dvs, conv),
                best(read_all, dvs, conv),
            )
            ratios = f"{ours:>12.0f}{ours / base:>7.1f}{one:>12.0f}{one / base:>7.1f}"
            print(f"{label:<22}{base:>9.0f}{ratios}")
    print(f"asyncua's own decoding of one Double DataValue: {decode_cost():.0f} ns")


if __name__ == "__main__":
    main()
