"""The summary of `gateway probe --range` (pure): the plausible decodings as the tag-map fields
that would give them, told apart into those that stand alone and those that share registers.

Decodings that share a register cannot both be right (a register holds one tag's value), and
one of them is often wrong by only a little: a CDAB float32 at N and the ABCD float32 at N+1
share the float's high word, so they differ by a fraction of a percent. Such decodings are
never given as the answer: they are listed in groups of which at most one is right, with how
to decide, and `--expect VALUE` (read off the PLC's panel or HMI) ranks them by closeness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.collectors.modbus.probe import Decoding, value_text
from gateway.collectors.modbus.types import REGISTER_WIDTH, ByteOrder, DataType

#: the best match for --expect is decisive when the next one is this many times further off
DECISIVE = 10.0

HOW_TO_DECIDE = [
    "to decide: the device's register map (the tag's address and type); the value the PLC or",
    "HMI shows (probe again with --expect VALUE to rank them by it); or a second probe once",
    "the value has changed: the right decoding follows the process, a wrong one that borrows",
    "a neighbour's register moves with that register instead",
]
#: with --expect given, the ranking below is the second way; the others stay
HOW_TO_DECIDE_EXPECTED = [
    "to decide: the device's register map (the tag's address and type); the ranking by",
    "--expect below; or a second probe once the value has changed: the right decoding follows",
    "the process, a wrong one that borrows a neighbour's register moves with that register",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A plausible reading of some registers: one decoding, and the other types that read
    the same registers in the same order as the same value (int16 and uint16 of 235)."""

    decoding: Decoding
    same_as: tuple[DataType, ...] = ()

    @property
    def registers(self) -> range:
        d = self.decoding
        return range(d.address, d.address + REGISTER_WIDTH[d.dtype])


def candidates(found: Sequence[Decoding]) -> list[Candidate]:
    """The decodings inside the range but zeros (zero registers fit every type), those of
    the same registers, order and value merged into one."""
    out: list[Candidate] = []
    seen: dict[tuple[int, int, ByteOrder, int | float], int] = {}
    for d in found:
        if not d.in_range or d.value == 0:
            continue
        key = (d.address, REGISTER_WIDTH[d.dtype], d.order, d.value)
        if key in seen:
            first = out[seen[key]]
            out[seen[key]] = Candidate(first.decoding, (*first.same_as, d.dtype))
            continue
        seen[key] = len(out)
        out.append(Candidate(d))
    return out


def exclusive_groups(found: Sequence[Candidate]) -> list[tuple[list[int], list[Candidate]]]:
    """The largest sets of candidates that share a register (so at most one of each set is
    right), each with the registers its members all hold, in address order."""
    by_register: dict[int, list[Candidate]] = {}
    for c in found:
        for register in c.registers:
            by_register.setdefault(register, []).append(c)
    groups: list[tuple[list[int], list[Candidate]]] = []
    for register in sorted(by_register):
        members = by_register[register]
        if len(members) < 2:
            continue
        if groups and groups[-1][1] == members:
            groups[-1][0].append(register)  # the same set over consecutive registers
        else:
            groups.append(([register], members))
    # a set inside another (intervals: a subset of the next or the previous one) adds nothing
    return [
        (regs, members)
        for regs, members in groups
        if not any(set(map(id, members)) < set(map(id, other)) for _, other in groups)
    ]


def fields_text(c: Candidate) -> str:
    d = c.decoding
    shown = REGISTER_WIDTH[d.dtype] > 1 or d.order is not ByteOrder.ABCD
    order = f", byte_order: {d.order.value}" if shown else ""
    text = f"address: {d.address}, type: {d.dtype.value}{order}  -> {value_text(d.value, d.dtype)}"
    if c.same_as:
        text += f"  ({', '.join(t.value for t in c.same_as)} reads the same)"
    return text


def off_by(c: Candidate, expect: float) -> float:
    return abs(float(c.decoding.value) - expect)


def expect_lines(found: Sequence[Candidate], expect: float) -> list[str]:
    """Which candidate is closest to the value read off the HMI, and whether that decides."""
    if not found:
        return [f"nothing plausible to compare with --expect {expect:g}"]
    ranked = sorted(found, key=lambda c: off_by(c, expect))
    best = ranked[0]
    lines = [
        f"closest to --expect {expect:g}: {fields_text(best)} (off by {off_by(best, expect):.4g})"
    ]
    if len(ranked) > 1 and off_by(ranked[1], expect) < DECISIVE * off_by(best, expect):
        lines.append(
            f"  not decisive: {fields_text(ranked[1])} is nearly as close (off by "
            f"{off_by(ranked[1], expect):.4g}); read the HMI's value with more digits at the "
            "moment of the probe, or probe again once the value has changed"
        )
    return lines


def candidate_line(c: Candidate, indent: str, expect: float | None, best: Candidate | None) -> str:
    line = indent + fields_text(c)
    if expect is not None:
        line += f"  (off by {off_by(c, expect):.4g})"
        if c is best:
            line += "  <- closest to --expect"
    return line


def summary_lines(
    found: Sequence[Decoding], limits: tuple[float, float], expect: float | None = None
) -> list[str]:
    """The plausible decodings that share no register with another one (each may be the
    answer), then the groups that share registers (at most one of each is right) and how to
    decide between them; with `expect`, each one's distance from it and the closest marked."""
    inside = [d for d in found if d.in_range and d.value != 0]
    zeros = sum(1 for d in found if d.in_range and d.value == 0)
    head = f"plausible within {limits[0]:g}..{limits[1]:g}: {len(inside)} decoding(s)"
    if zeros:
        head += f" ({zeros} zero(s) left out: they fit every type)"
    readings = candidates(found)
    groups = exclusive_groups(readings)
    shared = {id(c) for _, members in groups for c in members}
    best = None
    if expect is not None and readings:
        best = min(readings, key=lambda c: off_by(c, expect))
    lines = ["", head]
    lines += [candidate_line(c, "  ", expect, best) for c in readings if id(c) not in shared]
    if groups:
        lines += [
            "overlapping: these plausible decodings share registers, and a register holds one",
            "value, so at most one of each group is right"
            + (":" if expect is not None else " (none of them is the answer yet):"),
        ]
        for registers, members in groups:
            lines.append(f"  one of these (sharing {registers_text(registers)}):")
            lines += [candidate_line(c, "    ", expect, best) for c in members]
        lines += HOW_TO_DECIDE if expect is None else HOW_TO_DECIDE_EXPECTED
    if expect is not None:
        lines += expect_lines(readings, expect)
    return lines


def registers_text(registers: Sequence[int]) -> str:
    if len(registers) == 1:
        return f"register {registers[0]}"
    return f"registers {registers[0]}..{registers[-1]}"
