"""InfluxDBSink against a real VictoriaMetrics, a closed port, and a fault-injecting server."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import gzip
import json
import socket
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from gateway.errors import (
    PayloadTooLargeError,
    RejectedSinkError,
    RetryableSinkError,
    SinkError,
    ThrottledSinkError,
)
from gateway.model import Point, Quality, Sample, bad
from gateway.sinks import InfluxDBSink, Precision, encode_lines
from gateway.sinks.influxdb import parse_retry_after
from tests.vmserver import VictoriaMetrics, by_name

pytestmark = pytest.mark.integration

T0_MS = 1_700_000_000_123  # a fixed past time: retentionPeriod=100y keeps it


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the real database ---------------------------------------------------------------------


@pytest.mark.parametrize("use_gzip", [True, False])
async def test_lines_are_stored_with_exact_values_and_ms_timestamps(
    victoria: VictoriaMetrics, use_gzip: bool
) -> None:
    tags = {"device": "plc 1", "line": "a,b"}
    temp = Point.build("plc 1", "t", "boiler", "temp", tags)
    count = Point.build("plc 1", "c", "boiler", "count", tags)
    running = Point.build("plc 1", "r", "boiler", "running", tags)
    state = Point.build("plc 1", "s", "boiler", "state", tags)
    t0 = T0_MS * 1_000_000 + 456_789  # sub-millisecond part is dropped by the encoder
    lines = encode_lines(
        [
            Sample(temp, 21.25, Quality.GOOD, t0),
            Sample(count, 123456789, Quality.GOOD, t0),
            Sample(running, True, Quality.UNCERTAIN, t0, "stale"),
            bad(state, t0, "illegal data address"),
            Sample(temp, -3.5, Quality.GOOD, t0 + 1_000_000),
        ]
    )
    assert len(lines) == 2
    sink = InfluxDBSink(victoria.url, "any-token", "any-org", "any-bucket", gzip=use_gzip)
    await sink.start()
    try:
        await sink.write(lines)
    finally:
        await sink.close()

    expected = {
        "boiler_temp": ([21.25, -3.5], [T0_MS, T0_MS + 1]),
        "boiler_temp_quality": ([0, 0], [T0_MS, T0_MS + 1]),
        "boiler_count": ([123456789], [T0_MS]),
        "boiler_count_quality": ([0], [T0_MS]),
        "boiler_running": ([1], [T0_MS]),
        "boiler_running_quality": ([1], [T0_MS]),
        "boiler_running_reason": ([0], [T0_MS]),  # VictoriaMetrics stores strings as 0
        "boiler_state_quality": ([2], [T0_MS]),
        "boiler_state_reason": ([0], [T0_MS]),
    }
    series = await victoria.wait_for_series_async(lambda s: len(s) == len(expected))
    stored = by_name(series)
    assert set(stored) == set(expected)  # no "boiler_state" value field for the BAD sample
    for name, (values, stamps) in expected.items():
        assert stored[name]["metric"] == {"__name__": name, "device": "plc 1", "line": "a,b"}
        assert stored[name]["values"] == values, name
        assert stored[name]["timestamps"] == stamps, name


async def test_precision_is_sent_with_the_lines(victoria: VictoriaMetrics) -> None:
    p = Point.build("d", "t", "m", "v", {"device": "d"})
    lines = encode_lines([Sample(p, 1, Quality.GOOD, T0_MS * 1_000_000)], Precision.S)
    assert lines == ["m,device=d v=1i,v_quality=0i 1700000000"]
    sink = InfluxDBSink(victoria.url, "t", "o", "b", precision=Precision.S)
    try:
        await sink.write(lines)  # no start(): the client is created on first write
    finally:
        await sink.close()
    series = await victoria.wait_for_series_async(lambda s: len(s) == 2)
    assert by_name(series)["m_v"]["timestamps"] == [1_700_000_000_000]


async def test_survives_a_server_restart(victoria: VictoriaMetrics) -> None:
    sink = InfluxDBSink(victoria.url, "t", "o", "b")
    try:
        await sink.write([f"m,device=d v=1i {T0_MS}"])
        victoria.restart()
        # The pooled keep-alive connection is dead now: the first write may fail (retryable),
        # but the sink must recover without being recreated.
        errors: list[SinkError] = []
        for _ in range(3):
            try:
                await sink.write([f"m,device=d v=2i {T0_MS + 1}"])
                break
            except RetryableSinkError as exc:
                errors.append(exc)
        else:
            pytest.fail(f"no successful write after the restart: {errors}")
        assert len(errors) <= 1, errors
    finally:
        await sink.close()
    series = await victoria.wait_for_series_async(
        lambda s: bool(s) and by_name(s)["m_v"]["values"] == [1, 2]
    )
    assert by_name(series)["m_v"]["timestamps"] == [T0_MS, T0_MS + 1]


async def test_closed_port_is_retryable() -> None:
    port = closed_port()
    sink = InfluxDBSink(f"http://127.0.0.1:{port}", "t", "o", "b")
    await sink.start()
    try:
        with pytest.raises(
            RetryableSinkError, match=f"cannot reach http://127.0.0.1:{port}"
        ) as exc:
            await sink.write([f"m v=1i {T0_MS}"])
    finally:
        await sink.close()
    assert not isinstance(exc.value, ThrottledSinkError)
    assert isinstance(exc.value.__cause__, OSError)  # aiohttp's ClientConnectorError


async def test_close_leaves_no_unclosed_session(victoria: VictoriaMetrics) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sink = InfluxDBSink(victoria.url, "t", "o", "b")
        await sink.close()  # before start: nothing to do
        await sink.start()
        await sink.write([f"m v=1i {T0_MS}"])
        await sink.close()
        await sink.close()
        del sink
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_repr_hides_the_token() -> None:
    sink = InfluxDBSink("http://db:8086", "s3cret-token", "org", "bucket")
    assert "s3cret" not in repr(sink)
    assert "http://db:8086" in repr(sink)


# -- a fault-injecting server ----------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    sent: bytes = b""  # the body as it came, compressed or not


class FaultServer:
    """Answers every request with `reply`; records what it received."""

    def __init__(self) -> None:
        self.reply = Reply(204)
        self.received: list[Received] = []
        self.hang = False
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        sent = raw = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        self.received.append(
            Received(request.path, dict(request.query), dict(request.headers), raw.decode(), sent)
        )
        if self.hang:
            await self.release.wait()
        return web.Response(
            status=self.reply.status, headers=self.reply.headers, text=self.reply.body
        )


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    server = FaultServer()
    # No automatic decompression: the handler decompresses, proving the body was gzip.
    app = web.Application(handler_args={"auto_decompress": False})
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await web.SockSite(runner, sock).start()
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()
        sock.close()


@pytest.fixture
async def sink(fault_server: FaultServer) -> AsyncIterator[InfluxDBSink]:
    s = InfluxDBSink(fault_server.url, "tok", "my org", "my bucket", timeout_s=2.0)
    await s.start()
    try:
        yield s
    finally:
        await s.close()


async def test_request_shape(fault_server: FaultServer, sink: InfluxDBSink) -> None:
    lines = [f"m,device=d v=1i {T0_MS}", f'm,device=d s="x y" {T0_MS + 1}']
    await sink.write(lines)
    await sink.write([])  # nothing to send: no request
    (got,) = fault_server.received
    assert got.path == "/api/v2/write"
    assert got.query == {"org": "my org", "bucket": "my bucket", "precision": "ms"}
    assert got.headers["Authorization"] == "Token tok"
    assert got.headers["Content-Encoding"] == "gzip"
    assert got.body == "\n".join(lines)


async def test_bodies_are_gzipped_at_the_fastest_level(
    fault_server: FaultServer, sink: InfluxDBSink
) -> None:
    """Level 9 (influxdb-client's own) costs ~10x the CPU of level 1 on plant data; a large
    body is compressed off the event loop, the same way."""
    small = [f"m,device=d v=1i {T0_MS}"]
    large = [f"m,device=d{n} v={n * 0.37!r},v_quality=0i {T0_MS + n}" for n in range(5000)]
    assert len("\n".join(large)) > 64 * 1024
    await sink.write(small)
    await sink.write(large)
    for got, lines in zip(fault_server.received, (small, large), strict=True):
        assert got.headers["Content-Encoding"] == "gzip"
        assert got.sent[:2] == b"\x1f\x8b"
        assert got.sent[8] == 4  # XFL 4: compressed with the fastest algorithm
        assert got.body == "\n".join(lines)


async def test_without_gzip_body_is_plain(fault_server: FaultServer) -> None:
    plain = InfluxDBSink(fault_server.url, "tok", "o", "b", gzip=False)
    try:
        await plain.write(["m v=1i 1"])
    finally:
        await plain.close()
    (got,) = fault_server.received
    assert "Content-Encoding" not in got.headers
    assert got.body == "m v=1i 1"


async def test_429_with_retry_after_seconds(fault_server: FaultServer, sink: InfluxDBSink) -> None:
    fault_server.reply = Reply(429, {"Retry-After": "7"}, '{"code":"too many requests"}')
    with pytest.raises(ThrottledSinkError, match="429") as info:
        await sink.write(["m v=1i 1"])
    assert info.value.retry_after == 7.0


async def test_429_with_retry_after_http_date(
    fault_server: FaultServer, sink: InfluxDBSink
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    fault_server.reply = Reply(429, {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    with pytest.raises(ThrottledSinkError) as info:
        await sink.write(["m v=1i 1"])
    assert info.value.retry_after is not None
    assert 100 < info.value.retry_after <= 120


async def test_503_without_retry_after(fault_server: FaultServer, sink: InfluxDBSink) -> None:
    fault_server.reply = Reply(503)
    with pytest.raises(ThrottledSinkError, match="503") as info:
        await sink.write(["m v=1i 1"])
    assert info.value.retry_after is None


async def test_413_payload_too_large(fault_server: FaultServer, sink: InfluxDBSink) -> None:
    fault_server.reply = Reply(413, body='{"code":"request too large","message":"max 10MB"}')
    with pytest.raises(PayloadTooLargeError, match="max 10MB"):
        await sink.write(["m v=1i 1"])


@pytest.mark.parametrize("status", [400, 422])
async def test_rejected(fault_server: FaultServer, sink: InfluxDBSink, status: int) -> None:
    message = "unable to parse 'm v=': missing field value"
    fault_server.reply = Reply(status, body=json.dumps({"code": "invalid", "message": message}))
    with pytest.raises(RejectedSinkError, match="missing field value") as info:
        await sink.write(["m v= 1"])
    assert info.value.status == status


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_are_retryable_and_say_what_to_fix(
    fault_server: FaultServer, sink: InfluxDBSink, status: int
) -> None:
    fault_server.reply = Reply(status, body='{"code":"unauthorized","message":"unauthorized"}')
    with pytest.raises(RetryableSinkError, match="token") as info:
        await sink.write(["m v=1i 1"])
    assert type(info.value) is RetryableSinkError
    assert "permission" in str(info.value)


@pytest.mark.parametrize("status", [404, 500, 502, 504])
async def test_other_statuses_are_retryable(
    fault_server: FaultServer, sink: InfluxDBSink, status: int
) -> None:
    fault_server.reply = Reply(status, body="upstream trouble")
    with pytest.raises(RetryableSinkError, match=str(status)) as info:
        await sink.write(["m v=1i 1"])
    assert type(info.value) is RetryableSinkError


async def test_unexpected_2xx_is_not_an_ack(fault_server: FaultServer, sink: InfluxDBSink) -> None:
    fault_server.reply = Reply(200, body="<html>a web page</html>")
    with pytest.raises(RetryableSinkError, match="unexpected success status"):
        await sink.write(["m v=1i 1"])


async def test_timeout_is_retryable(fault_server: FaultServer) -> None:
    fault_server.hang = True
    quick = InfluxDBSink(fault_server.url, "t", "o", "b", timeout_s=0.2)
    try:
        with pytest.raises(
            RetryableSinkError, match=r"TimeoutError: no complete answer within 0.2 s"
        ):
            await asyncio.wait_for(quick.write(["m v=1i 1"]), 10)
    finally:
        await quick.close()
    assert len(fault_server.received) == 1


async def test_connection_dropped_is_retryable() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    dropping = InfluxDBSink(f"http://127.0.0.1:{port}", "t", "o", "b")
    try:
        with pytest.raises(RetryableSinkError, match="cannot reach"):
            await dropping.write(["m v=1i 1"])
    finally:
        await dropping.close()
        server.close()
        await server.wait_closed()


async def test_a_tls_failure_is_unreachable_not_an_http_status() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")  # no TLS
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tls = InfluxDBSink(f"https://127.0.0.1:{port}", "t", "o", "b")
    try:
        with pytest.raises(RetryableSinkError, match=r"cannot reach .*SSL") as exc:
            await tls.write(["m v=1i 1"])
        assert "HTTP" not in str(exc.value).split("cannot reach")[0]
    finally:
        await tls.close()
        server.close()
        await server.wait_closed()


# -- Retry-After parsing -------------------------------------------------------------------------


NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 30 ", 30.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("Wed, 01 May 2024 12:01:30 GMT", 90.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # in the past: no wait
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected
