"""Forwarder and memory buffer: ack before delete, retry, throttle, split, reject."""

from __future__ import annotations

import asyncio
import logging

from gateway.buffer.memory import MemoryBuffer
from gateway.errors import (
    PayloadTooLargeError,
    RejectedSinkError,
    RetryableSinkError,
    ThrottledSinkError,
)
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.memory import MemorySink
from gateway.testing import FakeClock, soon


def lines(n: int, prefix: str = "m v=") -> list[str]:
    return [f"{prefix}{i} {i}" for i in range(n)]


async def test_buffer_keeps_lines_until_acknowledged():
    buf = MemoryBuffer()
    buf.put(lines(5))
    batch = await buf.begin(3)
    assert batch is not None
    assert batch.lines == tuple(lines(5)[:3])
    assert buf.stats.depth == 5  # begin does not remove
    assert await buf.begin(3) == batch  # and the same batch comes again until acknowledged
    await buf.ack(batch)
    assert buf.stats.depth == 2
    assert (await buf.begin(10)).lines == tuple(lines(5)[3:])


async def test_buffer_full_drops_oldest_and_counts():
    buf = MemoryBuffer(max_lines=4)
    buf.put(lines(3))
    buf.put(lines(3, "n v="))
    assert buf.stats.dropped["full"] == 2
    assert (await buf.begin(10)).lines == ("m v=2 2", "n v=0 0", "n v=1 1", "n v=2 2")


async def test_lines_in_flight_are_neither_dropped_nor_counted_against_the_limit():
    buf = MemoryBuffer(max_lines=4)
    buf.put(lines(4))
    batch = await buf.begin(3)  # lines 0-2 in flight
    buf.put(lines(2, "n v="))  # 3 lines not in flight: within the limit
    assert buf.stats.dropped["full"] == 0
    buf.put(lines(2, "x v="))  # 5 not in flight: the oldest of them (line 3) goes
    assert buf.stats.dropped["full"] == 1
    await buf.ack(batch)
    assert buf.stats.sent == 3
    assert (await buf.begin(10)).lines == ("n v=0 0", "n v=1 1", "x v=0 0", "x v=1 1")


async def test_a_failed_write_puts_its_lines_under_the_limit_again():
    buf = MemoryBuffer(max_lines=4)
    buf.put(lines(4))
    batch = await buf.begin(4)
    await buf.ack(batch, 0)  # the write failed
    buf.put(lines(1, "n v="))
    assert buf.stats.dropped["full"] == 1
    assert (await buf.begin(10)).lines == (*lines(4)[1:], "n v=0 0")


async def test_partial_ack_removes_only_the_first_lines():
    buf = MemoryBuffer()
    buf.put(lines(5))
    batch = await buf.begin(5)
    await buf.ack(batch, 2)
    assert (await buf.begin(10)).lines == tuple(lines(5)[2:])
    assert buf.stats.sent == 2


async def test_flush_writes_everything_in_batches():
    buf, sink = MemoryBuffer(), MemorySink()
    buf.put(lines(25))
    fwd = Forwarder(buf, sink, batch_size=10, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert sink.lines == lines(25)
    assert sink.writes == 3
    assert buf.stats.depth == 0
    assert fwd.stats.written == 25


async def test_retryable_error_keeps_the_batch_and_backs_off():
    buf, sink, clock = MemoryBuffer(), MemorySink(), FakeClock()
    sink.fail_next = [RetryableSinkError("down"), RetryableSinkError("down")]
    buf.put(lines(3))
    fwd = Forwarder(buf, sink, batch_size=10, flush_interval=0.01, clock=clock, backoff=(1.0, 8.0))
    task = asyncio.create_task(fwd.run())
    await sink.wait_for(lambda got: got == lines(3), 5)
    task.cancel()
    assert fwd.stats.retries == 2
    assert 0.8 <= clock.sleeps[0] <= 1.2  # first backoff with jitter
    assert 1.6 <= clock.sleeps[1] <= 2.4  # doubled
    assert buf.stats.depth == 0


async def test_throttled_waits_for_retry_after():
    buf, sink, clock = MemoryBuffer(), MemorySink(), FakeClock()
    sink.fail_next = [ThrottledSinkError("429", retry_after=7.0)]
    buf.put(lines(2))
    fwd = Forwarder(buf, sink, flush_interval=0.01, clock=clock)
    task = asyncio.create_task(fwd.run())
    await sink.wait_for(lambda got: len(got) == 2, 5)
    task.cancel()
    assert clock.sleeps[0] == 7.0


async def test_payload_too_large_is_split_in_halves():
    buf, sink = MemoryBuffer(), MemorySink()
    sink.fail_next = [PayloadTooLargeError("413")]
    buf.put(lines(6))
    fwd = Forwarder(buf, sink, batch_size=6, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert sink.lines == lines(6)
    assert sink.writes == 3  # the refused one, then two halves


async def test_rejected_lines_are_isolated_and_the_rest_written():
    class PoisonSink(MemorySink):
        async def write(self, batch):
            if any("poison" in ln for ln in batch):
                self.writes += 1
                raise RejectedSinkError("400 bad field type", status=400)
            await super().write(batch)

    buf, sink = MemoryBuffer(), PoisonSink()
    good = lines(7)
    buf.put([*good[:3], "m poison=1 1", *good[3:]])
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert sink.lines == good
    assert fwd.dead_letters.recent == ["m poison=1 1"]
    assert fwd.stats.rejected == 1
    assert buf.stats.depth == 0


async def test_flush_gives_up_at_its_deadline_and_keeps_the_data():
    buf, sink = MemoryBuffer(), MemorySink()
    sink.fail_next = [RetryableSinkError("down")] * 1000

    class SlowClock(FakeClock):
        async def sleep(self, seconds):
            await asyncio.sleep(0.01)

    buf.put(lines(3))
    fwd = Forwarder(buf, sink, clock=SlowClock())
    assert await fwd.flush(soon(0.2)) is False
    assert buf.stats.depth == 3


async def test_a_failed_acknowledgement_is_retried_without_resending():
    class FlakyAck(MemoryBuffer):
        fails = 1

        async def ack(self, batch, count=None):
            if self.fails:
                self.fails -= 1
                raise OSError("disk I/O error")
            await super().ack(batch, count)

    buf, sink = FlakyAck(), MemorySink()
    buf.put(lines(5))
    fwd = Forwarder(buf, sink, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert sink.lines == lines(5)  # written once, although the first ack failed
    assert buf.stats.depth == 0


async def test_an_unwritable_dead_letter_file_does_not_block_the_sink(tmp_path):
    from gateway.runtime.deadletter import DeadLetters

    class PoisonSink(MemorySink):
        async def write(self, batch):
            if any("poison" in ln for ln in batch):
                raise RejectedSinkError("400", status=400)
            await super().write(batch)

    buf, sink = MemoryBuffer(), PoisonSink()
    good = lines(4)
    buf.put([*good[:2], "m poison=1 1", *good[2:]])
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the dead-letter folder should be
    fwd = Forwarder(
        buf, sink, clock=FakeClock(), dead_letters=DeadLetters(blocked / "sub" / "rejected.lp")
    )
    assert await fwd.flush(soon(5))
    assert sink.lines == good  # written once each; the poison line did not block them
    assert fwd.dead_letters.lost == 1
    assert fwd.stats.rejected == 1


ORG = "influxdb: HTTP 400 (data rejected): Please provide either orgID or org"


class RequestRefusingSink(MemorySink):
    """Answers the first `refusals` writes with the same request-level 400, whatever the lines."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals

    async def write(self, batch):
        if self.refusals:
            self.refusals -= 1
            self.writes += 1
            raise RejectedSinkError(ORG, status=400)
        await super().write(batch)


class ParseErrorSink(MemorySink):
    """Refuses lines holding `poison` the way InfluxDB does: the message names the first one."""

    async def write(self, batch):
        bad = [ln for ln in batch if "poison" in ln]
        if bad:
            self.writes += 1
            raise RejectedSinkError(f"HTTP 400: unable to parse '{bad[0]}': bad", status=400)
        await super().write(batch)


async def test_a_request_level_400_keeps_the_lines_and_marks_the_sink_down(caplog):
    class SlowClock(FakeClock):
        async def sleep(self, seconds):
            self.sleeps.append(seconds)
            await asyncio.sleep(0.01)

    buf, sink = MemoryBuffer(), RequestRefusingSink(refusals=10**6)
    buf.put(lines(50))
    fwd = Forwarder(buf, sink, batch_size=100, clock=SlowClock())
    assert await fwd.flush(soon(0.3)) is False
    assert buf.stats.depth == 50  # nothing dead-lettered, nothing dropped
    assert fwd.dead_letters.recent == []
    assert fwd.stats.rejected == 0
    assert fwd.stats.healthy is False
    assert fwd.stats.retries >= 2
    assert sink.writes <= 3 * fwd.stats.retries  # a few probes per attempt, not one per line
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "Please provide either orgID or org" in errors[0]


async def test_once_the_request_is_fixed_every_line_is_written_once(caplog):
    caplog.set_level(logging.INFO)
    buf, sink, clock = MemoryBuffer(), RequestRefusingSink(refusals=7), FakeClock()
    buf.put(lines(50))
    fwd = Forwarder(buf, sink, batch_size=100, clock=clock)
    assert await fwd.flush(soon(5))
    assert sink.lines == lines(50)
    assert fwd.dead_letters.recent == []
    assert fwd.stats.healthy is True
    assert fwd.stats.retries == 2
    assert len(clock.sleeps) == 2  # waited between attempts
    assert min(clock.sleeps) >= 0.5
    assert [r.levelname for r in caplog.records if r.name == "gateway.runtime.forwarder"] == [
        "ERROR",
        "INFO",
    ]


async def test_after_a_line_was_accepted_refusing_it_again_is_a_request_error():
    buf, sink = MemoryBuffer(), RequestRefusingSink(refusals=0)
    buf.put(lines(3))
    fwd = Forwarder(buf, sink, batch_size=1, clock=FakeClock())
    assert await fwd.flush(soon(5))
    sink.refusals = 2  # e.g. a proxy in front of the database starts refusing
    buf.put(lines(1, "n v="))
    assert await fwd._attempt() == 0.0  # a single line, refused; so is one accepted before
    assert fwd.dead_letters.recent == []
    assert buf.stats.depth == 1
    assert await fwd.flush(soon(5))
    assert sink.lines == [*lines(3), *lines(1, "n v=")]


async def test_a_parse_error_of_the_first_line_is_still_isolated():
    buf, sink = MemoryBuffer(), ParseErrorSink()
    good = lines(6)
    batch = ["m poison=1 1", *good[:3], "m poison=2 2", *good[3:]]
    buf.put(batch)
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert sink.lines == good
    assert fwd.dead_letters.recent == ["m poison=1 1", "m poison=2 2"]
    assert fwd.stats.rejected == 2
    assert fwd.stats.healthy is True


async def test_a_write_whose_lines_are_all_refused_is_not_a_healthy_one():
    buf, sink = MemoryBuffer(), ParseErrorSink()
    buf.put([f"m poison={i} {i}" for i in range(3)])
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert fwd.stats.rejected == 3
    assert fwd.stats.healthy is not True


async def test_a_413_is_remembered_and_later_batches_are_not_split_again():
    class SmallBodySink(MemorySink):
        async def write(self, batch):
            if len(batch) > 8:
                self.writes += 1
                raise PayloadTooLargeError("413")
            await super().write(batch)

    buf, sink = MemoryBuffer(), SmallBodySink()
    buf.put(lines(40))
    fwd = Forwarder(buf, sink, batch_size=40, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert sink.lines == lines(40)
    first = sink.writes
    buf.put(lines(40, "n v="))
    assert await fwd.flush(soon(5))
    assert sink.writes - first == 40 // fwd.max_batch  # no refused request any more
    assert fwd.max_batch <= 8


async def test_readyz_names_a_sink_that_refuses_the_requests():
    from gateway.runtime.app import Gateway
    from gateway.runtime.assemble import readiness

    buf, sink = MemoryBuffer(), RequestRefusingSink(refusals=3)
    buf.put(lines(5))
    fwd = Forwarder(buf, sink, clock=FakeClock())
    gateway = Gateway([], [fwd])
    assert await fwd._attempt() == 0.0
    ok, reason = readiness(gateway)
    assert not ok
    assert reason == f"sink refuses the requests: memory ({ORG})"
    assert await fwd.flush(soon(5))
    assert readiness(gateway) == (False, "no device up")


async def test_a_sink_that_takes_the_probe_is_healthy_even_if_the_batch_was_all_refused():
    buf, sink = MemoryBuffer(), ParseErrorSink()
    buf.put(lines(2))
    fwd = Forwarder(buf, sink, clock=FakeClock())
    assert await fwd.flush(soon(5))
    sink.fail_next = [RetryableSinkError("down")]
    buf.put(["m poison=1 1"])
    assert await fwd._attempt() == 0.0  # refused, and the probe finds the sink down
    assert fwd.stats.healthy is False
    assert await fwd.flush(soon(5))  # refused again, but the probe (a line from before) is taken
    assert fwd.stats.healthy is True
    assert fwd.dead_letters.recent == ["m poison=1 1"]
