"""The forwarder, a durable buffer and the real InfluxDB sink against a fault-injecting
InfluxDB-like endpoint: 429 with Retry-After, 503, 413 and 400/422 for chosen lines."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from gateway.buffer.sqlite import SqliteBuffer
from gateway.runtime.deadletter import DeadLetters
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.influxdb import InfluxDBSink
from gateway.testing import FakeClock, soon

pytestmark = pytest.mark.integration


class Endpoint:
    """Scripted answers first (status, headers); then: 413 above `max_lines` lines per
    request, 400 for a batch holding a line with `poison`, 422 with `badtype`, else 204."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.max_lines = 1_000_000
        self.stored: list[str] = []
        self.requests: list[int] = []  # status answered per request
        self.message = "refused"  # the error message of every refusal
        self.page: str | None = None  # a 400's message, formatted with the request's number

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()  # aiohttp has already undone the gzip encoding
        lines = body.decode().splitlines()
        status, headers = self._answer(lines)
        self.requests.append(status)
        if self.page is not None and status == 400:  # a proxy's page, new for every answer
            self.message = self.page.format(n=len(self.requests))
        if status == 204:
            self.stored.extend(lines)
        return web.Response(
            status=status,
            headers=headers,
            text="" if status == 204 else json.dumps({"code": "invalid", "message": self.message}),
        )

    def _answer(self, lines: list[str]) -> tuple[int, dict[str, str]]:
        if self.script:
            return self.script.pop(0)
        if len(lines) > self.max_lines:
            return 413, {}
        if any("poison" in line for line in lines):
            bad = next(line for line in lines if "poison" in line)
            self.message = f"unable to parse '{bad}': invalid field format"  # InfluxDB's words
            return 400, {}
        if any("badtype" in line for line in lines):
            self.message = "partial write: points beyond retention policy dropped=1"
            return 422, {}
        return 204, {}


@pytest.fixture
async def endpoint():
    ep = Endpoint()
    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_post("/api/v2/write", ep.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ep.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield ep
    await runner.cleanup()


@pytest.fixture
async def forwarder(endpoint, tmp_path):
    buffer = SqliteBuffer(tmp_path / "influxdb.sqlite", name="influxdb")
    await buffer.open()
    sink = InfluxDBSink(endpoint.url, "token", "org", "bucket")
    await sink.start()
    clock = FakeClock()
    fwd = Forwarder(
        buffer,
        sink,
        batch_size=100,
        clock=clock,
        dead_letters=DeadLetters(tmp_path / "influxdb.rejected.lp"),
    )
    yield fwd
    await sink.close()
    await buffer.close()


def lines(n: int, start: int = 0) -> list[str]:
    return [f"cell,device=c1 v={i}i {1_700_000_000_000 + i}" for i in range(start, start + n)]


async def queue(fwd: Forwarder, items: list[str]) -> None:
    fwd.buffer.put(items)
    await fwd.buffer.persist()


async def test_429_retry_after_is_honoured_and_nothing_is_lost(endpoint, forwarder):
    endpoint.script = [(429, {"Retry-After": "7"}), (503, {})]
    await queue(forwarder, lines(10))
    assert await forwarder.flush(soon(10))
    assert endpoint.requests == [429, 503, 204]
    assert forwarder.clock.sleeps[0] == 7.0  # as told
    assert forwarder.clock.sleeps[1] >= 0.5  # 503 without Retry-After: our own backoff
    assert endpoint.stored == lines(10)
    assert forwarder.buffer.stats.depth == 0
    assert forwarder.stats.retries == 2


async def test_413_splits_until_the_batches_fit(endpoint, forwarder):
    endpoint.max_lines = 30
    await queue(forwarder, lines(100))
    assert await forwarder.flush(soon(10))
    assert endpoint.stored == lines(100)  # all of it, in order
    assert endpoint.requests.count(413) >= 2
    assert forwarder.stats.rejected == 0


@pytest.mark.parametrize("marker", ["poison", "badtype"])
async def test_refused_lines_are_dead_lettered_and_the_rest_written(
    endpoint, forwarder, tmp_path, marker
):
    good = lines(40)
    bad = [f"cell,device=c1 {marker}=1i 1700000000999", f"cell,device=c2 {marker}=2i 1700000000998"]
    batch = good[:10] + bad[:1] + good[10:30] + bad[1:] + good[30:]
    await queue(forwarder, batch)
    assert await forwarder.flush(soon(10))
    assert endpoint.stored == good  # every good line, in order, once
    assert forwarder.stats.rejected == 2
    letters = (tmp_path / "influxdb.rejected.lp").read_text().splitlines()
    assert [ln for ln in letters if not ln.startswith("#")] == bad
    assert all("rejected" in ln for ln in letters if ln.startswith("#"))
    assert forwarder.buffer.stats.depth == 0  # nothing retried forever


async def test_a_failure_in_the_middle_of_a_split_never_resends_what_was_written(
    endpoint, forwarder
):
    """413 -> halves; the first half is stored, the second hits a 503: after the retry the
    server holds every line exactly once."""
    endpoint.script = [(413, {}), (204, {}), (503, {})]
    await queue(forwarder, lines(20))
    assert await forwarder.flush(soon(10))
    assert endpoint.stored == lines(20)


async def test_a_request_level_400_is_retried_not_dead_lettered(endpoint, forwarder, tmp_path):
    """InfluxDB 2 without an org answers 400 to every request, whatever the lines."""
    endpoint.message = "Please provide either orgID or org"
    endpoint.script = [(400, {})] * 6
    await queue(forwarder, lines(200))
    assert await forwarder.flush(soon(10))
    assert endpoint.stored == lines(200)
    assert endpoint.requests == [400] * 6 + [204, 204]  # a few probes, not two per line
    assert forwarder.stats.rejected == 0
    assert forwarder.stats.retries == 2
    assert not (tmp_path / "influxdb.rejected.lp").exists()


async def test_a_413_lowers_the_batch_size_for_later_batches(endpoint, forwarder):
    endpoint.max_lines = 30
    await queue(forwarder, lines(100))
    assert await forwarder.flush(soon(10))
    refused = endpoint.requests.count(413)
    await queue(forwarder, lines(100, start=100))
    assert await forwarder.flush(soon(10))
    assert endpoint.requests.count(413) == refused  # not split again
    assert endpoint.stored == lines(200)


async def test_a_proxy_page_that_changes_per_answer_dead_letters_nothing(
    endpoint, forwarder, tmp_path
):
    """After a good write, a proxy answers 400 with a page carrying the time of the answer."""
    await queue(forwarder, lines(5))
    assert await forwarder.flush(soon(10))
    endpoint.page = "<html>400 Bad Request at 2026-12-01 17:44:{n:02d} UTC</html>"
    endpoint.script = [(400, {})] * 4
    await queue(forwarder, lines(100, start=5))
    assert await forwarder._attempt() == 0.0
    assert forwarder.refusing is True
    assert forwarder.stats.healthy is False
    assert forwarder.buffer.stats.depth == 100
    assert not (tmp_path / "influxdb.rejected.lp").exists()
    assert await forwarder.flush(soon(10))  # the proxy lets requests through again
    assert endpoint.stored == lines(105)
    assert forwarder.stats.rejected == 0
