"""`gateway probe`'s summary: decodings that share registers are never given as the answer.

A CDAB float32 at N and the ABCD float32 at N+1 share the float's high word: both are
plausible and differ by a fraction of a percent. The registers are written out by hand."""

from __future__ import annotations

from gateway.collectors.modbus.probe import decodings
from gateway.collectors.modbus.probesummary import candidates, exclusive_groups, summary_lines
from gateway.collectors.modbus.types import DataType

# flow = 1234.5 (float32 0x449A5000) at 100..101 in CDAB order, then 235 at 102
BLOCK = [0x0000, 0x5000, 0x449A, 0x00EB]
START = 99
FLOW = (0.0, 5000.0)
FLOAT = [DataType.FLOAT32]
RIGHT = "address: 100, type: float32, byte_order: CDAB  -> 1234.5"
NEIGHBOUR = "address: 101, type: float32, byte_order: ABCD  -> 1232.0287"  # 0x449A 0x00EB


def plain(summary: list[str]) -> list[str]:
    """The lines given as answers: right under the head, before any group."""
    lines = summary[2:]
    end = next((i for i, s in enumerate(lines) if not s.startswith("  ")), len(lines))
    return [s.strip() for s in lines[:end]]


def test_the_neighbour_sharing_the_high_word_is_not_an_answer():
    summary = summary_lines(decodings(START, BLOCK, FLOW, FLOAT), FLOW)
    assert plain(summary) == []
    start = summary.index("  one of these (sharing register 101):")
    assert summary[start + 1 : start + 3] == ["    " + RIGHT, "    " + NEIGHBOUR]
    assert any(s.startswith("overlapping: ") for s in summary)
    advice = " ".join(summary)
    for way in ("register map", "--expect VALUE", "a second probe"):
        assert way in advice


def test_a_decoding_sharing_no_register_is_the_answer():
    # the float's registers alone: any register after its high word would make a neighbour
    summary = summary_lines(decodings(100, BLOCK[1:3], FLOW, FLOAT), FLOW)
    assert plain(summary) == [RIGHT]
    assert not any("one of these" in s or "overlapping" in s for s in summary)


def test_same_registers_same_value_are_one_candidate():
    found = candidates(decodings(102, [0x00EB], FLOW))
    assert len(found) == 1
    assert found[0].same_as == (DataType.UINT16,)
    assert plain(summary_lines(decodings(102, [0x00EB], FLOW), FLOW)) == [
        "address: 102, type: int16  -> 235  (uint16 reads the same)"
    ]


def test_groups_are_the_sets_sharing_a_register_not_a_chain():
    # 1234.5 at 100 and 235 at 102 may both be right: only the float between them excludes
    # either, so they are in two groups, not one
    limits = (200.0, 5000.0)  # (not the 80 of 0x5000 read BADC)
    found = candidates(decodings(100, BLOCK[1:], limits, [DataType.FLOAT32, DataType.UINT16]))
    groups = [
        ([*r], [c.decoding.address for c in members]) for r, members in exclusive_groups(found)
    ]
    assert groups == [([101], [100, 101]), ([102], [101, 102])]


def test_expect_marks_the_closest_and_says_when_it_decides():
    found = decodings(START, BLOCK, FLOW, FLOAT)
    summary = summary_lines(found, FLOW, expect=1234.5)
    assert "    " + RIGHT + "  (off by 0)  <- closest to --expect" in summary
    assert "    " + NEIGHBOUR + "  (off by 2.471)" in summary
    assert summary[-1] == f"closest to --expect 1234.5: {RIGHT} (off by 0)"
    # given --expect, the summary does not ask for it, nor call the ranking not yet there
    assert not [line for line in summary if "--expect VALUE" in line or "answer yet" in line]
    # an HMI showing 1233 is nearer the wrong one, and not by much: not decisive
    vague = summary_lines(found, FLOW, expect=1233.0)
    assert vague[-2] == f"closest to --expect 1233: {NEIGHBOUR} (off by 0.9713)"
    assert vague[-1].startswith(f"  not decisive: {RIGHT} is nearly as close (off by 1.5)")


def test_the_simulated_plants_neighbours_at_input_register_3():
    # the plant's input registers 2..7 as read (a CDAB float32 of 1051.35 at 3..4), the case
    # found against `python -m simulators plant` with --range 900:1200
    block = [0x0257, 0x6B47, 0x4483, 0x11D1, 0x933F, 0x54D2]
    limits = (900.0, 1200.0)
    summary = summary_lines(decodings(2, block, limits, FLOAT), limits)
    assert not any("address: 4, type: float32, byte_order: ABCD" in s for s in plain(summary))
    group = summary[summary.index("  one of these (sharing register 4):") + 1 :][:2]
    assert [s.split("  ->")[0].strip() for s in group] == [
        "address: 3, type: float32, byte_order: CDAB",
        "address: 4, type: float32, byte_order: ABCD",
    ]


def test_two_orders_of_the_same_registers_are_one_group_over_both():
    block = [0x449A, 0x4480]  # ABCD 1234.14, CDAB 1026.14: both inside 0..5000
    summary = summary_lines(decodings(100, block, FLOW, FLOAT), FLOW)
    assert plain(summary) == []
    group = summary[summary.index("  one of these (sharing registers 100..101):") + 1 :][:2]
    assert [s.split("  ->")[0].strip() for s in group] == [
        "address: 100, type: float32, byte_order: ABCD",
        "address: 100, type: float32, byte_order: CDAB",
    ]
