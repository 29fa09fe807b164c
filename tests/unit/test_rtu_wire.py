"""The RTU line pacing of the simulator: pure arithmetic, no clock."""

from __future__ import annotations

import pytest

from simulators.rtu_wire import Line, answer_start, release_plan


def test_bits_per_char_count_start_data_parity_and_stop_bits() -> None:
    assert Line().bits_per_char == 11  # 19200 8E1, the gateway's modbus+rtu defaults
    assert Line(parity="N").bits_per_char == 10
    assert Line(parity="N", stopbits=2).bits_per_char == 11
    assert Line(bytesize=7, parity="O", stopbits=2).bits_per_char == 11


def test_char_time_and_silence() -> None:
    line = Line(baudrate=9600)
    assert line.char_time == pytest.approx(11 / 9600)
    assert line.silence == pytest.approx(3.5 * 11 / 9600)
    assert Line(baudrate=19200).silence == pytest.approx(3.5 * 11 / 19200)
    # above 19200 baud the standard fixes the silence at 1.75 ms
    assert Line(baudrate=38400).silence == pytest.approx(0.00175)
    assert Line(baudrate=115200).silence == pytest.approx(0.00175)
    assert Line(baudrate=9600).wire_time(8) == pytest.approx(8 * 11 / 9600)


def test_the_answer_starts_after_the_request_on_the_wire_the_silence_and_the_turnaround() -> None:
    line = Line(baudrate=9600, turnaround=0.002)
    # an 8-byte request that arrived at once (a pty) at t=100 would have lasted 8 chars
    start = answer_start(line, first=100.0, last=100.0, request_bytes=8, ready=100.0)
    assert start == pytest.approx(100.0 + line.wire_time(8) + line.silence + 0.002)


def test_a_request_that_came_slower_than_the_line_counts_from_its_last_byte() -> None:
    line = Line(baudrate=115200, turnaround=0.0)
    start = answer_start(line, first=10.0, last=10.5, request_bytes=8, ready=10.5)
    assert start == pytest.approx(10.5 + line.silence)


def test_a_late_answer_starts_when_it_is_ready() -> None:
    line = Line()
    start = answer_start(line, first=0.0, last=0.0, request_bytes=8, ready=2.0)
    assert start == 2.0


def test_an_answer_waits_for_the_previous_one_to_leave_the_line() -> None:
    line = Line(baudrate=9600, turnaround=0.0)
    start = answer_start(line, first=0.0, last=0.0, request_bytes=8, ready=0.0, line_free=5.0)
    assert start == pytest.approx(5.0 + line.silence)


def test_every_byte_is_released_when_it_has_finished_on_the_wire() -> None:
    line = Line(baudrate=9600)  # 1.146 ms per character
    plan = release_plan(line, start=1.0, nbytes=9, min_step=0.0)
    assert [count for _, count in plan] == [1] * 9
    for index, (moment, _) in enumerate(plan):
        assert moment == pytest.approx(1.0 + (index + 1) * line.char_time)


def test_bytes_are_grouped_into_chunks_at_least_min_step_apart_and_never_early() -> None:
    line = Line(baudrate=19200)  # 0.573 ms per character
    plan = release_plan(line, start=0.0, nbytes=25, min_step=0.002)
    assert sum(count for _, count in plan) == 25
    released = 0
    previous = 0.0
    for moment, count in plan:
        released += count
        assert moment >= released * line.char_time - 1e-12  # none of them before its time
        assert moment - previous >= 0.002 - 1e-12 or released == 25
        previous = moment
    assert plan[-1][0] == pytest.approx(25 * line.char_time)  # the last one exactly on time


def test_an_empty_answer_has_no_plan() -> None:
    assert release_plan(Line(), start=0.0, nbytes=0) == []
