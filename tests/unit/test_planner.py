"""Tests for the Modbus read planner; expectations are computed by hand."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable, Iterable

import pytest

from gateway.collectors.modbus.planner import (
    MAX_BITS,
    MAX_REGISTERS,
    ReadRequest,
    Span,
    plan_reads,
    split_at_gaps,
    split_refused,
)
from gateway.collectors.modbus.types import Space

HR = Space.HOLDING_REGISTER
IR = Space.INPUT_REGISTER
CO = Space.COIL
DI = Space.DISCRETE_INPUT

Shape = tuple[Space, int, int, int, tuple[Hashable, ...]]


def span(key: Hashable, address: int, count: int = 1, space: Space = HR, unit: int = 1) -> Span:
    return Span(key=key, space=space, unit=unit, address=address, count=count)


def shape(requests: Iterable[ReadRequest]) -> list[Shape]:
    """(space, unit, start, count, keys served) of each request, in output order."""
    return [(r.space, r.unit, r.start, r.count, tuple(s.key for s in r.spans)) for r in requests]


# --- basics ---------------------------------------------------------------------------------


def test_empty_input_gives_no_requests() -> None:
    assert plan_reads([]) == []
    assert plan_reads(iter(())) == []


def test_contiguous_tags_make_one_request() -> None:
    # uint16 @0, float32 @1-2, uint32 @3-4
    spans = [span("a", 0), span("b", 1, 2), span("c", 3, 2)]
    assert shape(plan_reads(spans)) == [(HR, 1, 0, 5, ("a", "b", "c"))]


def test_input_order_does_not_matter_and_spans_come_sorted() -> None:
    spans = [span("c", 3, 2), span("a", 0), span("b", 1, 2)]
    assert shape(plan_reads(spans)) == [(HR, 1, 0, 5, ("a", "b", "c"))]


def test_accepts_a_generator() -> None:
    assert shape(plan_reads(span(i, i) for i in range(3))) == [(HR, 1, 0, 3, (0, 1, 2))]


def test_function_and_offset() -> None:
    spans = [span("a", 10, 2, space=IR), span("b", 14, space=IR)]
    (request,) = plan_reads(spans, max_gap=2)
    assert (request.start, request.count, request.function) == (10, 5, 4)
    assert [request.offset(s) for s in request.spans] == [0, 4]


@pytest.mark.parametrize(("space", "code"), [(CO, 1), (DI, 2), (HR, 3), (IR, 4)])
def test_function_code_per_space(space: Space, code: int) -> None:
    assert [r.function for r in plan_reads([span("a", 0, space=space)])] == [code]


# --- gaps -----------------------------------------------------------------------------------


def test_default_max_gap_keeps_holes_unread() -> None:
    # @0 (1 reg) and @2 (1 reg): hole of one register
    assert shape(plan_reads([span("a", 0), span("b", 2)])) == [
        (HR, 1, 0, 1, ("a",)),
        (HR, 1, 2, 1, ("b",)),
    ]


def test_adjacent_spans_need_no_gap() -> None:
    assert shape(plan_reads([span("a", 0, 2), span("b", 2, 2)], max_gap=0)) == [
        (HR, 1, 0, 4, ("a", "b")),
    ]


def test_gap_bridged_when_at_most_max_gap() -> None:
    # a @0-1, b @6-7: hole is registers 2..5 = 4
    spans = [span("a", 0, 2), span("b", 6, 2)]
    assert shape(plan_reads(spans, max_gap=4)) == [(HR, 1, 0, 8, ("a", "b"))]
    assert shape(plan_reads(spans, max_gap=100)) == [(HR, 1, 0, 8, ("a", "b"))]


def test_gap_not_bridged_when_over_max_gap() -> None:
    spans = [span("a", 0, 2), span("b", 6, 2)]
    assert shape(plan_reads(spans, max_gap=3)) == [
        (HR, 1, 0, 2, ("a",)),
        (HR, 1, 6, 2, ("b",)),
    ]


def test_gap_is_measured_from_the_furthest_end_so_far() -> None:
    # a @0-9 covers b @2; c @12: hole from 10 to 11 = 2, not 12 - 3 = 9
    spans = [span("a", 0, 10), span("b", 2), span("c", 12)]
    assert shape(plan_reads(spans, max_gap=2)) == [(HR, 1, 0, 13, ("a", "b", "c"))]
    assert len(plan_reads(spans, max_gap=1)) == 2


def test_bridged_gap_still_respects_the_length_limit() -> None:
    assert shape(plan_reads([span("a", 0), span("b", 124)], max_gap=200)) == [
        (HR, 1, 0, 125, ("a", "b")),
    ]
    assert shape(plan_reads([span("a", 0), span("b", 125)], max_gap=200)) == [
        (HR, 1, 0, 1, ("a",)),
        (HR, 1, 125, 1, ("b",)),
    ]


# --- request length limits ------------------------------------------------------------------


def test_limits_match_the_modbus_spec() -> None:
    assert (MAX_REGISTERS, MAX_BITS) == (125, 2000)


def test_125_uint16_fit_one_request() -> None:
    assert shape(plan_reads([span(i, i) for i in range(125)])) == [
        (HR, 1, 0, 125, tuple(range(125))),
    ]


def test_126_uint16_split_125_plus_1() -> None:
    assert shape(plan_reads([span(i, i) for i in range(126)])) == [
        (HR, 1, 0, 125, tuple(range(125))),
        (HR, 1, 125, 1, (125,)),
    ]


def test_63_float32_split_62_plus_1() -> None:
    # float32 i at 2i..2i+1; 62 tags fill 124 registers, the 63rd (124-125) would make 126
    spans = [span(i, 2 * i, 2, space=IR) for i in range(63)]
    assert shape(plan_reads(spans)) == [
        (IR, 1, 0, 124, tuple(range(62))),
        (IR, 1, 124, 2, (62,)),
    ]


def test_float32_across_the_boundary_is_not_split() -> None:
    spans = [span(i, i) for i in range(124)] + [span("f", 124, 2)]
    assert shape(plan_reads(spans)) == [
        (HR, 1, 0, 124, tuple(range(124))),
        (HR, 1, 124, 2, ("f",)),
    ]


def test_float32_ending_exactly_at_the_boundary_fits() -> None:
    spans = [span(i, i) for i in range(123)] + [span("f", 123, 2)]
    assert shape(plan_reads(spans)) == [(HR, 1, 0, 125, (*range(123), "f"))]


def test_2000_coils_fit_one_request_2001_do_not() -> None:
    assert shape(plan_reads([span(i, i, space=CO) for i in range(2000)])) == [
        (CO, 1, 0, 2000, tuple(range(2000))),
    ]
    assert shape(plan_reads([span(i, i, space=DI) for i in range(2001)])) == [
        (DI, 1, 0, 2000, tuple(range(2000))),
        (DI, 1, 2000, 1, (2000,)),
    ]


def test_bit_limit_with_bridged_gap() -> None:
    assert shape(plan_reads([span("a", 0, space=CO), span("b", 1999, space=CO)], max_gap=5000)) == [
        (CO, 1, 0, 2000, ("a", "b")),
    ]
    assert len(plan_reads([span("a", 0, space=CO), span("b", 2000, space=CO)], max_gap=5000)) == 2


def test_register_limit_does_not_apply_to_bits() -> None:
    assert len(plan_reads([span(i, i, space=CO) for i in range(126)])) == 1


def test_small_device_max_registers() -> None:
    # a device that accepts at most 10 registers per read
    spans = [span(i, i) for i in range(8)] + [span("f", 8, 2), span("g", 10, 2)]
    assert shape(plan_reads(spans, max_registers=10)) == [
        (HR, 1, 0, 10, (*range(8), "f")),
        (HR, 1, 10, 2, ("g",)),
    ]
    # the float32 at 9-10 would make 11: it opens the next request whole
    spans = [span(i, i) for i in range(9)] + [span("f", 9, 2)]
    assert shape(plan_reads(spans, max_registers=10)) == [
        (HR, 1, 0, 9, tuple(range(9))),
        (HR, 1, 9, 2, ("f",)),
    ]


def test_small_max_bits() -> None:
    spans = [span(i, i, space=CO) for i in range(7)]
    assert shape(plan_reads(spans, max_bits=3)) == [
        (CO, 1, 0, 3, (0, 1, 2)),
        (CO, 1, 3, 3, (3, 4, 5)),
        (CO, 1, 6, 1, (6,)),
    ]


def test_max_registers_of_one_reads_one_register_at_a_time() -> None:
    assert shape(plan_reads([span("a", 5), span("b", 6)], max_registers=1, max_gap=10)) == [
        (HR, 1, 5, 1, ("a",)),
        (HR, 1, 6, 1, ("b",)),
    ]


# --- overlapping and shared registers -------------------------------------------------------


def test_overlapping_spans_share_a_request() -> None:
    # a @10-13, b @12-15
    assert shape(plan_reads([span("b", 12, 4), span("a", 10, 4)])) == [
        (HR, 1, 10, 6, ("a", "b")),
    ]


def test_contained_span_does_not_extend_the_request() -> None:
    assert shape(plan_reads([span("outer", 10, 10), span("inner", 12)])) == [
        (HR, 1, 10, 10, ("outer", "inner")),
    ]


def test_duplicate_spans_share_a_request_in_input_order() -> None:
    spans = [span("y", 10, 2), span("x", 10, 2), span("y2", 10, 2)]
    assert shape(plan_reads(spans)) == [(HR, 1, 10, 2, ("y", "x", "y2"))]


def test_same_address_sorted_by_count_then_input_order() -> None:
    spans = [span("long", 10, 4), span("short", 10, 1), span("mid", 10, 2), span("short2", 10)]
    assert shape(plan_reads(spans)) == [(HR, 1, 10, 4, ("short", "short2", "mid", "long"))]


def test_bit_tags_share_one_register() -> None:
    # sixteen `bit` tags in register 40, then a uint16 in 41
    spans = [span(f"bit{n}", 40) for n in range(16)] + [span("word", 41)]
    (request,) = plan_reads(spans)
    assert shape([request]) == [(HR, 1, 40, 2, (*(f"bit{n}" for n in range(16)), "word"))]
    assert [request.offset(s) for s in request.spans] == [0] * 16 + [1]


def test_overlap_near_the_limit_opens_a_new_request() -> None:
    # a @0, b @123 count 1 fits (0..123); c @123 count 3 would end at 126
    spans = [span("a", 0), span("c", 123, 3), span("b", 123)]
    assert shape(plan_reads(spans, max_gap=200)) == [
        (HR, 1, 0, 124, ("a", "b")),
        (HR, 1, 123, 3, ("c",)),
    ]


# --- never mixing units or spaces; output order ---------------------------------------------


def test_units_never_mixed_even_when_addresses_interleave() -> None:
    spans = [span("u2@0", 0, unit=2), span("u1@1", 1, unit=1), span("u2@1", 1, unit=2)]
    spans += [span("u1@0", 0, unit=1), span("u2@2", 2, unit=2)]
    assert shape(plan_reads(spans)) == [
        (HR, 1, 0, 2, ("u1@0", "u1@1")),
        (HR, 2, 0, 3, ("u2@0", "u2@1", "u2@2")),
    ]


def test_spaces_never_mixed_even_when_addresses_interleave() -> None:
    spans = [span("h0", 0), span("i1", 1, space=IR), span("h2", 2), span("i3", 3, space=IR)]
    spans += [span("c0", 0, space=CO), span("d1", 1, space=DI), span("c1", 1, space=CO)]
    assert shape(plan_reads(spans, max_gap=1)) == [
        (CO, 1, 0, 2, ("c0", "c1")),
        (DI, 1, 1, 1, ("d1",)),
        (HR, 1, 0, 3, ("h0", "h2")),
        (IR, 1, 1, 3, ("i1", "i3")),
    ]


def test_output_ordered_by_unit_then_function_code_then_start() -> None:
    # input deliberately reversed; Space declares INPUT_REGISTER before HOLDING_REGISTER,
    # but holding registers (3) must come before input registers (4)
    spans = [
        span("u3-ir", 0, space=IR, unit=3),
        span("u3-hr-far", 50, unit=3),
        span("u3-hr", 5, unit=3),
        span("u1-ir", 7, space=IR, unit=1),
        span("u1-hr", 9, unit=1),
        span("u1-co", 100, space=CO, unit=1),
        span("u0-di", 3, space=DI, unit=0),
    ]
    assert [(r.unit, r.function, r.start) for r in plan_reads(spans)] == [
        (0, 2, 3),
        (1, 1, 100),
        (1, 3, 9),
        (1, 4, 7),
        (3, 3, 5),
        (3, 3, 50),
        (3, 4, 0),
    ]


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (span("zero", 0, 0), "count must be >= 1"),
        (span("negative", 0, -2), "count must be >= 1"),
        (span("below", -1, 1), "address must be >= 0"),
        (span("past", 65535, 2), "runs past the last address 65535"),
        (span("past-bit", 65000, 1000, space=CO), "runs past the last address 65535"),
        (span("long", 0, 126), "longer than the 125"),
        (span("long-ir", 10, 200, space=IR), "longer than the 125"),
        (span("long-bits", 0, 2001, space=DI), "longer than the 2000"),
    ],
)
def test_impossible_span_is_rejected(bad: Span, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        plan_reads([span("fine", 0), bad])
    assert repr(bad.key) in str(error.value)


def test_span_longer_than_a_custom_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="longer than the 16"):
        plan_reads([span("string", 0, 20)], max_registers=16)
    with pytest.raises(ValueError, match="longer than the 8"):
        plan_reads([span("coils", 0, 9, space=CO)], max_bits=8)


def test_spans_at_the_edges_are_accepted() -> None:
    spans = [
        span("last-reg", 65535),
        span("top", 65536 - 125, 125, space=IR),
        span("bits", 0, 2000, space=CO),
    ]
    assert shape(plan_reads(spans)) == [
        (CO, 1, 0, 2000, ("bits",)),
        (HR, 1, 65535, 1, ("last-reg",)),
        (IR, 1, 65411, 125, ("top",)),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_gap": -1}, "max_gap"),
        ({"max_registers": 0}, "max_registers"),
        ({"max_registers": 126}, "max_registers"),
        ({"max_bits": 0}, "max_bits"),
        ({"max_bits": 2001}, "max_bits"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_reads([span("a", 0)], **options)
    with pytest.raises(ValueError, match=message):  # even with nothing to plan
        plan_reads([], **options)


def test_options_at_the_edges_are_accepted() -> None:
    spans = [span("a", 0), span("b", 0, space=CO)]
    for options in ({"max_registers": 1, "max_bits": 1}, {"max_registers": 125, "max_bits": 2000}):
        assert len(plan_reads(spans, max_gap=0, **options)) == 2


# --- property-style check against an independent reference ----------------------------------


def _feasible(group: list[Span], limit: int, max_gap: int) -> bool:
    """Whether one request may serve exactly these spans, checked from scratch."""
    start = min(s.address for s in group)
    end = max(s.address + s.count for s in group)
    if end - start > limit:
        return False
    covered: set[int] = set()
    for s in group:
        covered.update(range(s.address, s.address + s.count))
    hole = 0
    for address in range(start, end):
        hole = 0 if address in covered else hole + 1
        if hole > max_gap:
            return False
    return True


def _reference_count(spans: list[Span], max_gap: int, max_registers: int, max_bits: int) -> int:
    """Fewest requests: per (unit, space), the best split of the address-sorted spans into runs."""
    total = 0
    for unit, space in {(s.unit, s.space) for s in spans}:
        group = sorted((s for s in spans if (s.unit, s.space) == (unit, space)), key=_by_address)
        limit = max_bits if space.is_bit else max_registers
        best = [0] + [len(group) + 1] * len(group)  # best[i]: requests for the first i spans
        for i in range(1, len(group) + 1):
            for j in range(i):
                if best[j] + 1 < best[i] and _feasible(group[j:i], limit, max_gap):
                    best[i] = best[j] + 1
        total += best[-1]
    return total


def _by_address(s: Span) -> tuple[int, int]:
    return (s.address, s.count)


def _random_spans(rng: random.Random, max_registers: int, max_bits: int) -> list[Span]:
    base = rng.choice([0, 0, 1000, 65536 - 400])
    spans: list[Span] = []
    for key in range(rng.randint(1, 40)):
        if spans and rng.random() < 0.15:  # an exact duplicate under another key
            twin = rng.choice(spans)
            spans.append(Span(key, twin.space, twin.unit, twin.address, twin.count))
            continue
        space = rng.choice(list(Space))
        limit = max_bits if space.is_bit else max_registers
        count = rng.randint(1, limit) if rng.random() < 0.05 else rng.randint(1, min(limit, 4))
        address = base + rng.randint(0, 4200 if space.is_bit else 300)
        spans.append(Span(key, space, rng.choice([1, 2]), min(address, 65536 - count), count))
    return spans


def _check_invariants(
    spans: list[Span], requests: list[ReadRequest], max_gap: int, lim: dict[bool, int]
) -> None:
    served = Counter(s.key for r in requests for s in r.spans)
    assert served == Counter(s.key for s in spans)  # keys are unique: each span exactly once
    assert set(served.values()) == {1}
    order = [(r.unit, r.function, r.start) for r in requests]
    assert order == sorted(order)
    for r in requests:
        assert 1 <= r.count <= lim[r.space.is_bit]
        assert r.start >= 0
        assert r.start + r.count <= 65536
        assert all((s.unit, s.space) == (r.unit, r.space) for s in r.spans)
        assert all(0 <= r.offset(s) <= r.count - s.count for s in r.spans)
        assert r.start == min(s.address for s in r.spans)  # reads nothing needless
        assert r.start + r.count == max(s.address + s.count for s in r.spans)
        assert _feasible(list(r.spans), lim[r.space.is_bit], max_gap)
        assert list(r.spans) == sorted(r.spans, key=lambda s: (s.address, s.count, s.key))


def test_random_span_sets_against_reference() -> None:
    rng = random.Random(20240611)
    for _ in range(400):
        max_gap = rng.choice([0, 0, 1, 3, 10, 200])
        max_registers = rng.choice([MAX_REGISTERS, MAX_REGISTERS, 8, 1, rng.randint(1, 125)])
        max_bits = rng.choice([MAX_BITS, 16, rng.randint(1, 2000)])
        spans = _random_spans(rng, max_registers, max_bits)
        requests = plan_reads(
            spans, max_gap=max_gap, max_registers=max_registers, max_bits=max_bits
        )
        _check_invariants(spans, requests, max_gap, {False: max_registers, True: max_bits})
        assert len(requests) == _reference_count(spans, max_gap, max_registers, max_bits)


def _partitions(items: list[Span]) -> Iterable[list[list[Span]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _partitions(rest):
        yield [[first], *partition]
        for i in range(len(partition)):
            yield [*partition[:i], [first, *partition[i]], *partition[i + 1 :]]


def test_greedy_is_optimal_against_every_partition_of_small_sets() -> None:
    rng = random.Random(7)
    for _ in range(300):
        limit, max_gap = rng.randint(1, 8), rng.randint(0, 3)
        spans: list[Span] = []
        for key in range(rng.randint(1, 6)):
            count = rng.randint(1, limit)
            spans.append(span(key, rng.randint(0, 14 - count), count))
        best = min(
            len(p) for p in _partitions(spans) if all(_feasible(g, limit, max_gap) for g in p)
        )
        assert len(plan_reads(spans, max_gap=max_gap, max_registers=limit)) == best


# --- splitting a request that bridged a gap -------------------------------------------------


def test_split_at_gaps_gives_the_requests_without_the_holes() -> None:
    spans = [span("a", 0, 2), span("b", 4, 2), span("c", 6), span("d", 9)]
    (merged,) = plan_reads(spans, max_gap=4)
    assert (merged.start, merged.count) == (0, 10)
    assert shape(split_at_gaps(merged)) == [
        (HR, 1, 0, 2, ("a",)),
        (HR, 1, 4, 3, ("b", "c")),  # adjacent spans stay together
        (HR, 1, 9, 1, ("d",)),
    ]


def test_split_keeps_overlapping_spans_together() -> None:
    (merged,) = plan_reads([span("a", 0, 4), span("b", 2, 4), span("c", 8)], max_gap=2)
    assert shape(split_at_gaps(merged)) == [(HR, 1, 0, 6, ("a", "b")), (HR, 1, 8, 1, ("c",))]


def test_a_request_without_a_hole_is_not_split() -> None:
    (request,) = plan_reads([span("a", 3, 2), span("b", 5), span("c", 5, 2)], max_gap=4)
    assert split_at_gaps(request) == [request]


def test_split_of_bits() -> None:
    (merged,) = plan_reads([span("a", 0, space=CO), span("b", 100, space=CO)], max_gap=200)
    assert shape(split_at_gaps(merged)) == [(CO, 1, 0, 1, ("a",)), (CO, 1, 100, 1, ("b",))]


def test_split_pieces_serve_every_span_once() -> None:
    rng = random.Random(8)
    spans = [span(i, rng.randrange(200), rng.randrange(1, 4)) for i in range(40)]
    for request in plan_reads(spans, max_gap=6):
        pieces = split_at_gaps(request)
        assert Counter(s.key for p in pieces for s in p.spans) == Counter(
            s.key for s in request.spans
        )
        for piece in pieces:
            covered = set()
            for s in piece.spans:
                covered.update(range(s.address, s.address + s.count))
            assert covered == set(range(piece.start, piece.start + piece.count))  # no hole


def test_a_refused_request_without_a_hole_is_split_per_tag() -> None:
    """Contiguous tags: the one whose own registers are undefined must not blank the others."""
    (request,) = plan_reads([span("a", 0), span("b", 1, 2), span("c", 3)])
    assert shape(split_refused(request)) == [
        (HR, 1, 0, 1, ("a",)),
        (HR, 1, 1, 2, ("b",)),
        (HR, 1, 3, 1, ("c",)),
    ]


def test_a_refused_request_with_holes_is_split_at_the_holes_first() -> None:
    (merged,) = plan_reads([span("a", 0), span("b", 1), span("c", 5)], max_gap=4)
    assert shape(split_refused(merged)) == [(HR, 1, 0, 2, ("a", "b")), (HR, 1, 5, 1, ("c",))]
    first = split_refused(merged)[0]
    assert shape(split_refused(first)) == [(HR, 1, 0, 1, ("a",)), (HR, 1, 1, 1, ("b",))]


def test_overlapping_spans_are_never_split_apart() -> None:
    (word,) = plan_reads([span("word", 4), span("bit0", 4), span("bit3", 4)])
    assert split_refused(word) == [word]
