"""RTU frames in the simulator: CRC, request framing by length and silence, damage."""

from __future__ import annotations

import random

from pymodbus.framer import FramerRTU

from simulators.rtu_frames import (
    RequestAssembler,
    crc_ok,
    damage,
    has_valid_prefix,
    request_size,
    with_crc,
)

READ = bytes.fromhex("010300000002c40b")  # unit 1, read holding 0..1 (a known frame)


def test_crc_matches_a_known_frame_and_pymodbus() -> None:
    assert with_crc(READ[:-2]) == READ
    assert crc_ok(READ)
    assert not crc_ok(READ[:-1] + bytes([READ[-1] ^ 1]))
    body = bytes.fromhex("0b0400640003")
    assert with_crc(body)[-2:] == FramerRTU.compute_CRC(body).to_bytes(2, "big")


def test_request_size_from_the_function_code() -> None:
    assert request_size(READ) == 8
    assert request_size(READ[:1]) == 0  # too short to tell
    write = with_crc(bytes.fromhex("0110006400020400010002"))  # write multiple registers
    assert request_size(write) == len(write) == 13
    assert request_size(write[:6]) == 0  # byte count not there yet
    assert request_size(bytes.fromhex("0164")) is None  # unknown function code


def test_assembler_splits_frames_that_arrive_together_and_in_pieces() -> None:
    assembler = RequestAssembler(gap=0.05)
    second = with_crc(bytes.fromhex("020400100004"))
    frames = assembler.feed(READ + second[:3], now=1.0)
    assert [f.frame for f in frames] == [READ]
    (frame,) = assembler.feed(second[3:], now=1.001)
    assert frame.frame == second
    assert (frame.first, frame.last) == (1.0, 1.001)


def test_assembler_drops_a_partial_frame_after_a_silence() -> None:
    assembler = RequestAssembler(gap=0.05)
    assert assembler.feed(READ[:5], now=1.0) == []
    (frame,) = assembler.feed(READ, now=1.2)  # the stale half is gone, the new frame is whole
    assert frame.frame == READ
    assert assembler.dropped == 1


def test_assembler_drops_a_frame_with_a_bad_crc() -> None:
    assembler = RequestAssembler(gap=0.05)
    bad = READ[:-1] + bytes([READ[-1] ^ 0xFF])
    assert assembler.feed(bad, now=1.0) == []
    assert assembler.dropped == 1
    (frame,) = assembler.feed(READ, now=1.001)
    assert frame.frame == READ


def test_an_unknown_function_code_is_a_frame_when_its_crc_closes_it() -> None:
    assembler = RequestAssembler(gap=0.05)
    odd = with_crc(bytes.fromhex("0164aabb"))
    (frame,) = assembler.feed(odd, now=1.0)
    assert frame.frame == odd


def test_damaged_frames_never_have_a_valid_crc_and_every_kind_occurs() -> None:
    rng = random.Random(3)
    answer = with_crc(bytes.fromhex("0304") + bytes(range(4)))
    long_answer = with_crc(bytes([1, 3, 250]) + bytes(rng.randrange(256) for _ in range(250)))
    kinds = set()
    for original in [answer, long_answer] * 300:
        damaged = damage(original, rng)
        assert damaged != original
        assert not has_valid_prefix(damaged), (original.hex(), damaged.hex())
        if len(damaged) < len(original):
            kinds.add("truncated")
            assert original.startswith(damaged)
        elif len(damaged) > len(original):
            kinds.add("inserted")
            assert damaged[0] == original[0]  # garbage inside the frame, not before it
        else:
            kinds.add("flipped")
    assert kinds == {"truncated", "inserted", "flipped"}


def test_has_valid_prefix() -> None:
    assert has_valid_prefix(READ)
    assert has_valid_prefix(READ + b"\x00")
    assert not has_valid_prefix(READ[:-1])
