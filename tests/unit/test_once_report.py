"""What `gateway once` prints besides line protocol: --raw comments and implausible hints."""

from __future__ import annotations

import shlex

from gateway.collectors.modbus.compile import ModbusTagPlan
from gateway.collectors.modbus.endpoint import parse_endpoint
from gateway.collectors.modbus.probeargs import probe_command
from gateway.collectors.modbus.rawsource import raw_limits, source_text
from gateway.collectors.modbus.types import ByteOrder, DataType, Space
from gateway.model import Point, Quality, Sample, bad
from gateway.oncereport import annotated_lines, implausible_hints
from gateway.sinks.lineprotocol import Precision

VOLTS = Point.build("cell01", "voltage", "cell", "voltage", {"device": "cell01"})
AMPS = Point.build("cell01", "current", "cell", "current", {"device": "cell01"})
OTHER = Point.build("cell02", "voltage", "cell", "voltage", {"device": "cell02"})


def test_each_line_is_followed_by_the_sources_of_its_values():
    samples = [
        Sample(VOLTS, 4.12, Quality.GOOD, 1_000_000),
        bad(AMPS, 1_000_000, "Modbus exception 2 (illegal data address)"),
        Sample(OTHER, 3.9, Quality.UNCERTAIN, 1_000_000, "out of range [4, 5]"),
    ]
    sources = {VOLTS: "<- IR 0..1 [0x4083 0xD70A] float32 ABCD", OTHER: "<- IR 0..1 [..]"}
    lines = annotated_lines(samples, Precision.MS, sources)
    assert lines[0].startswith("cell,device=cell01 voltage=4.12,voltage_quality=0i,current_q")
    assert lines[1:3] == [
        "# cell01 voltage=4.12 <- IR 0..1 [0x4083 0xD70A] float32 ABCD",
        "# cell01 current BAD (Modbus exception 2 (illegal data address))",
    ]
    assert lines[3].startswith("cell,device=cell02 voltage=3.9")
    assert lines[4] == "# cell02 voltage=3.9 UNCERTAIN (out of range [4, 5]) <- IR 0..1 [..]"


def test_hints_judge_scaled_values_by_range_and_refused_ones_as_read():
    samples = [
        Sample(VOLTS, 7.5, Quality.UNCERTAIN, 1, "out of range [0, 6]"),
        bad(AMPS, 1, "not a finite number (inf)"),
        Sample(OTHER, 4.1, Quality.GOOD, 1),
    ]
    raw = {VOLTS: 75, AMPS: float("inf"), OTHER: 4.1}
    ranges = {VOLTS: (0.0, 6.0), AMPS: None, OTHER: (0.0, 6.0)}
    hints = implausible_hints(samples, raw, ranges, lambda p: "look" if p is VOLTS else "")
    assert hints == [
        "hint: cell01.voltage=7.5 looks implausible (outside 0..6); inspect it with: look",
        "hint: cell01.current=inf looks implausible (infinite)",
    ]


def tag(**changes: object) -> ModbusTagPlan:
    fields: dict[str, object] = dict(
        point=VOLTS,
        scale=None,
        range=None,
        deadband=None,
        heartbeat_s=None,
        space=Space.INPUT_REGISTER,
        address=10,
        count=1,
        dtype=DataType.INT16,
        order=ByteOrder.ABCD,
        bit=None,
    )
    fields.update(changes)
    return ModbusTagPlan(**fields)  # type: ignore[arg-type]


def test_the_probe_range_of_a_scaled_tag_is_in_raw_units():
    assert raw_limits(tag(range=(0.0, 600.0), scale=(0.1, 0.0))) == (0.0, 6000.0)
    assert raw_limits(tag(range=(10.0, 20.0), scale=(-2.0, 0.0))) == (-10.0, -5.0)
    assert raw_limits(tag(range=(1.0, 2.0))) == (1.0, 2.0)
    assert raw_limits(tag()) is None


def test_sources_name_space_addresses_registers_and_layout():
    assert source_text(tag(), [0x00EB]) == "<- IR 10 [0x00EB] int16"
    assert source_text(tag(order=ByteOrder.DCBA), [0xEB00]) == "<- IR 10 [0xEB00] int16 BADC"
    wide = tag(count=2, dtype=DataType.FLOAT32, order=ByteOrder.CDAB)
    assert source_text(wide, None) == "<- IR 10..11 (not read)"
    bit = tag(dtype=DataType.BIT, bit=3)
    assert source_text(bit, [8]) == "<- IR 10 [0x0008] bit 3"
    coil = tag(space=Space.COIL, dtype=DataType.BOOL)
    assert source_text(coil, [True]) == "<- coil 10 [1]"


def test_a_device_with_many_implausible_values_gets_one_more_line():
    points = [Point.build("cell03", f"t{i}", "cell", f"t{i}", {}) for i in range(6)]
    samples = [Sample(p, float("nan"), Quality.GOOD, 1) for p in points]
    hints = implausible_hints(samples, {}, {}, lambda p: "")
    assert hints[:3] == [f"hint: cell03.t{i}=nan looks implausible (NaN)" for i in range(3)]
    assert hints[3:] == [
        "hint: cell03: 3 more values look implausible (t3, t4, t5); `gateway once --raw` "
        "shows their registers"
    ]


def test_the_suggested_probe_of_a_serial_tag_carries_the_line_settings():
    endpoint = parse_endpoint("modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=N")
    command = probe_command(endpoint, 11, Space.INPUT_REGISTER, 0, 2, (-40.0, 60.0))
    assert command == (
        "gateway probe 'modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=N&stopbits=1&bytesize=8'"
        " --unit 11 --space input_register --address 0 --count 3 --range=-40:60"
    )
    assert shlex.split(command)[2] == (
        "modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=N&stopbits=1&bytesize=8"
    )
    coil = probe_command(endpoint, 1, Space.COIL, 65535, 1, (0.0, 1.0))
    assert coil.endswith("--space coil --address 65534 --count 2")  # no range for bits
