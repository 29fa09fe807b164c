"""Which frames a bus link trusts (bussync.py): the resync read's count and the verdict on a
complete frame."""

from __future__ import annotations

from pymodbus.framer import FramerRTU

from gateway.collectors.modbus.bussync import SKIP, TAKE, BusSync


def rtu(body: bytes) -> bytes:
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def test_no_resync_on_a_healthy_line_nor_for_another_function() -> None:
    sync = BusSync()
    assert sync.resync_count(1, 3, 10) == 0
    sync.failed(1, 4, 10)
    assert sync.resync_count(1, 3, 10) == 0  # no late answer of function 3 can come
    assert sync.resync_count(2, 4, 10) == 0  # nor of another unit


def test_the_resync_reads_another_size_than_every_late_answer() -> None:
    sync = BusSync()
    sync.failed(1, 3, 10)
    assert sync.resync_count(1, 3, 10) == 9  # a subset of the registers about to be read
    sync.failed(1, 3, 9)  # the resync itself failed: its answer may come late too
    assert sync.resync_count(1, 3, 10) == 8
    sync.failed(1, 3, 1)
    assert sync.resync_count(1, 3, 1) == 2  # one register has no subset
    sync.failed(1, 1, 3)
    assert sync.resync_count(1, 1, 3) == 9  # coils: 1..8 share one data byte
    sync.answered(1)
    assert sync.resync_count(1, 3, 10) == 0


def test_late_frames_are_skipped_and_the_answer_taken() -> None:
    sync = BusSync()
    answer = rtu(bytes([1, 3, 2, 0, 7]))
    assert sync.judge(answer, 1, 3, 1) == TAKE
    assert sync.judge(rtu(bytes([2, 3, 2, 0, 7])), 1, 3, 1) == SKIP  # a slow neighbour's
    assert sync.judge(rtu(bytes([1, 0x83, 2])), 1, 3, 1) == TAKE  # an exception answer
    longer = rtu(bytes([1, 3, 4, 0, 7, 0, 8]))
    assert sync.judge(longer, 1, 3, 1) == (
        "garbled answer (a longer frame than asked: a late answer?)"
    )
    sync.failed(1, 3, 2)
    assert sync.judge(longer, 1, 3, 1) == SKIP  # out of sync: a late answer of its own
