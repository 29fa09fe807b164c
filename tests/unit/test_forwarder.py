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
                raise RejectedSinkError("HTTP 400: unable to parse 'm poison=1 1'", status=400)
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
                raise RejectedSinkError("HTTP 400: partial write: field type conflict", status=400)
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


async def test_a_write_whose_lines_were_all_refused_after_a_healthy_one_is_not_healthy():
    from gateway.runtime.app import Gateway
    from gateway.runtime.assemble import readiness

    buf, sink = MemoryBuffer(), ParseErrorSink()
    buf.put(lines(2))
    fwd = Forwarder(buf, sink, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert fwd.stats.healthy is True
    buf.put(["m poison=1 1"])
    assert await fwd.flush(soon(5))  # refused and dead-lettered: nothing was written
    assert fwd.dead_letters.recent == ["m poison=1 1"]
    assert fwd.stats.healthy is False
    ok, reason = readiness(Gateway([], [fwd]))
    assert not ok
    assert reason.startswith("sink not writing: memory (")  # with why, not "not reachable"
    assert fwd.stats.last_error
    assert fwd.stats.last_error in reason
    buf.put(lines(1, "n v="))
    assert await fwd.flush(soon(5))
    assert fwd.stats.healthy is True


class ChangingPageSink(MemorySink):
    """After `good_writes` writes, a proxy in front answers every request with 400 and a page
    that carries the time of the answer (it differs from one request to the next)."""

    def __init__(self, good_writes: int) -> None:
        super().__init__()
        self.good_writes = good_writes

    async def write(self, batch):
        if self.writes >= self.good_writes:
            self.writes += 1
            page = f"<html>400 Bad Request ... 2026-12-01 17:44:{self.writes % 60:02d} UTC</html>"
            raise RejectedSinkError(f"influxdb: HTTP 400 (data rejected): {page}", status=400)
        await super().write(batch)


async def test_a_400_whose_page_changes_per_request_keeps_the_lines(caplog):
    from gateway.runtime.app import Gateway
    from gateway.runtime.assemble import readiness

    buf, sink = MemoryBuffer(), ChangingPageSink(good_writes=1)
    buf.put(lines(1))
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    assert await fwd._attempt() is None  # one good write: the sink took a line
    buf.put(lines(50, "n v="))
    for _ in range(3):
        assert await fwd._attempt() == 0.0
    assert buf.stats.depth == 50  # nothing dead-lettered, nothing dropped
    assert fwd.dead_letters.recent == []
    assert fwd.stats.rejected == 0
    assert fwd.stats.healthy is False
    assert fwd.refusing is True
    assert readiness(Gateway([], [fwd]))[0] is False
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "400 Bad Request" in errors[0]


async def test_a_400_whose_page_changes_per_request_keeps_the_lines_before_any_write():
    buf, sink = MemoryBuffer(), ChangingPageSink(good_writes=0)
    buf.put(lines(50))
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    for _ in range(3):
        assert await fwd._attempt() == 0.0
    assert buf.stats.depth == 50
    assert fwd.stats.rejected == 0
    assert fwd.refusing is True


class ConflictSink(MemorySink):
    """InfluxDB 2 with a field type conflict: the other lines are written (a partial write),
    the conflicting ones refused with a message that names only the field."""

    async def write(self, batch):
        self.writes += 1
        self.lines.extend(ln for ln in batch if "temp=" not in ln)
        if any("temp=" in ln for ln in batch):
            raise RejectedSinkError(
                "influxdb: HTTP 400 (data rejected): partial write: field type conflict: input "
                'field "temp" on measurement "cell" is type float, already exists as type '
                "integer dropped=1",
                status=400,
            )


async def test_a_field_type_conflict_of_the_first_lines_is_isolated_not_kept_forever():
    buf, sink = MemoryBuffer(), ConflictSink()
    bad = ["cell temp=1.5 1", "cell temp=1.6 2"]
    buf.put([*bad, *lines(10)])
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert fwd.dead_letters.recent == bad
    assert fwd.refusing is False
    assert set(sink.lines) == set(lines(10))  # partial writes repeat points: overwritten


async def test_a_good_line_beyond_retention_is_no_proof_of_a_refused_request():
    class RetentionSink(MemorySink):
        """Points older than `cutoff` are beyond the retention period (422); `poison` does
        not parse (400)."""

        cutoff = 0

        async def write(self, batch):
            if any(int(ln.split()[-1]) < self.cutoff for ln in batch):
                self.writes += 1
                raise RejectedSinkError(
                    "influxdb: HTTP 422: partial write: points beyond retention policy dropped=1",
                    status=422,
                )
            if any("poison" in ln for ln in batch):
                self.writes += 1
                raise RejectedSinkError("influxdb: HTTP 400: unable to parse 'x': bad", status=400)
            await super().write(batch)

    buf, sink = MemoryBuffer(), RetentionSink()
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    buf.put(["m v=1 50"])
    assert await fwd.flush(soon(5))
    sink.cutoff = 100  # the line written before is beyond retention now
    buf.put(["m poison=1 200", "m v=2 201"])
    assert await fwd.flush(soon(5))
    assert fwd.dead_letters.recent == ["m poison=1 200"]
    assert sink.lines == ["m v=1 50", "m v=2 201"]
    assert fwd.refusing is False


async def test_a_line_refused_with_an_unknown_message_is_set_aside_only_if_the_sink_takes_others():
    class OddSink(MemorySink):
        """Refuses `odd` lines with a message of no known shape; from the 4th write on, a
        proxy refuses every request (in the middle of the bisection)."""

        async def write(self, batch):
            self.writes += 1
            if self.writes >= self.refuse_from:
                raise RejectedSinkError(f"HTTP 400: Bad Request #{self.writes}", status=400)
            if any("odd" in ln for ln in batch):
                raise RejectedSinkError("HTTP 400: no", status=400)
            self.lines.extend(batch)

    buf, sink = MemoryBuffer(), OddSink()
    sink.refuse_from = 10**6
    buf.put([*lines(2), "m odd=1 1"])
    fwd = Forwarder(buf, sink, batch_size=100, clock=FakeClock())
    assert await fwd.flush(soon(5))
    assert fwd.dead_letters.recent == ["m odd=1 1"]  # the sink took a line it took before
    sink.writes, sink.refuse_from = 0, 4
    buf.put([*lines(4, "n v="), "n odd=1 1", *lines(3, "x v=")])
    assert await fwd._attempt() == 0.0
    assert fwd.dead_letters.recent == ["m odd=1 1"]  # nothing more set aside
    assert fwd.refusing is True
    assert fwd.stats.rejected == 1
    written = set(sink.lines) - set(lines(2))  # the probes wrote lines(2) again
    assert len(written) + buf.stats.depth == 8  # each new line written or kept
