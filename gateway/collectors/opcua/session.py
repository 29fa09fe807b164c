"""The supervisor that owns one OPC UA connection: connect, watch, reconnect with backoff.

asyncua's own `auto_reconnect` is not used: it re-creates subscriptions with the NodeIds they
had, so after a server restart that reorders its namespaces it would monitor the wrong nodes
(or none), it knows nothing of the caller's set-up (namespace URIs to resolve again, items to
re-create) and it logs every failed attempt. Its health probe is used as the detector: with
`auto_reconnect=False` the Client still reads ServerStatus/State every `watchdog_interval`
and reports a failed probe or a closed socket through `connection_lost_callback`. The loop
here then drops that Client and builds a fresh one, so every reconnect is a new session on
which `on_connected` runs again.

Detection bound: a closed socket is seen at once; a session the server dropped
(BadSessionIdInvalid, BadSessionClosed) at the next probe, within `watchdog_interval`; a
server that stops answering within `watchdog_interval` + the probe's timeout
(min(`watchdog_interval`, half the session timeout)), so at most 2 x `watchdog_interval`.
A subscription that stops publishing while the session still answers (the server dropped
it) is caught by `watch_silence` within its `max_silence` + `watchdog_interval`. The caller
can report a loss it sees itself (a subscription's BadTimeout status) with `lose()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from asyncua import Client, ua

log = logging.getLogger(__name__)

Configure = Callable[[Client], Awaitable[None]]
OnConnected = Callable[[Client, list[str]], Awaitable[None]]
OnLost = Callable[[str], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Times in seconds."""

    url: str
    request_timeout: float = 10.0  # one request (asyncua Client timeout)
    watchdog_interval: float = 2.0  # health probe period; detection within 2x this
    session_timeout: float = 60.0  # requested; a server may revise it
    backoff_initial: float = 1.0  # first wait after a failed attempt, doubled per failure
    backoff_max: float = 30.0
    jitter: float = 0.2  # each wait is drawn from +-20 % of the nominal one


def describe(exc: BaseException) -> str:
    """A short reason: the StatusCode name for a server's answer, else the exception text."""
    if isinstance(exc, ua.UaStatusCodeError):
        return ua.StatusCode(exc.code).name
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OSError) else f"{type(exc).__name__}: {text}"


class SessionSupervisor:
    """Keeps a session to `settings.url` up until `stop` is set; see the module docstring.

    `configure(client)` runs on every new Client before it connects (security, identity);
    `on_connected(client, namespace_array)` runs once per new session (resolve nsu= ids,
    subscribe); `on_lost(reason)` once per lost session, before reconnecting. An exception
    from `configure` or `on_connected` counts as a failed attempt (retried with backoff).
    """

    def __init__(
        self,
        settings: SessionSettings,
        on_connected: OnConnected,
        *,
        configure: Configure | None = None,
        on_lost: OnLost | None = None,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.name = name or settings.url
        self._configure = configure
        self._on_connected = on_connected
        self._on_lost = on_lost
        self.client: Client | None = None  # the live Client while connected, else None
        self.last_error = ""
        self.sessions = 0  # sessions established so far
        self._lost: asyncio.Future[str] | None = None
        self._watches: list[tuple[Callable[[], float], float]] = []

    @property
    def connected(self) -> bool:
        return self.client is not None

    def lose(self, reason: str) -> None:
        """Report that the current session is unusable; the supervisor reconnects."""
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    def watch_silence(self, last_activity: Callable[[], float], max_silence: float) -> None:
        """Treat the session as lost once `time.monotonic() - last_activity()` exceeds
        `max_silence` s (checked every `watchdog_interval`). For the current session only:
        call it from `on_connected`, e.g. with a SubscriptionSet's `last_publish` and
        `max_silence`, which catches a subscription the server dropped while it still
        answers reads."""
        self._watches.append((last_activity, max_silence))

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, watch, reconnect until `stop` is set; returns after closing the session.

        After a loss the first attempt is immediate; after each failed attempt the wait is
        `backoff_initial` doubled per failure up to `backoff_max`, with jitter.
        """
        try:
            await self._loop(stop)
        finally:
            client, self.client, self._lost = self.client, None, None
            if client is not None:  # cancelled while connected
                await self._close(client, healthy=True)

    async def _loop(self, stop: asyncio.Event) -> None:
        failures = 0
        down_since: float | None = None  # monotonic time the session went (or was) down
        while not stop.is_set():
            lost = self._lost = asyncio.get_running_loop().create_future()
            try:
                client = await _until(stop, self._connect(lost))
            except Exception as exc:  # a failed attempt, whatever the cause: retry
                self.last_error = describe(exc)
                if failures == 0 and down_since is None:
                    log.warning(
                        "OPC UA %s: cannot connect (%s); retrying", self.name, self.last_error
                    )
                    down_since = time.monotonic()
                log.debug(
                    "OPC UA %s: attempt %d failed: %s", self.name, failures + 1, self.last_error
                )
                await _until(stop, asyncio.sleep(self._backoff(failures)))
                failures += 1
                continue
            if client is None:  # stopped while connecting
                return
            self._up(client, failures, down_since)
            failures, down_since = 0, None
            reason = await self._watch(lost, stop)
            self.client = None
            await self._close(client, healthy=reason is None)
            if reason is None:
                return
            self.last_error = reason
            down_since = time.monotonic()
            log.warning("OPC UA %s: session lost (%s); reconnecting", self.name, reason)
            if self._on_lost is not None:
                try:
                    await self._on_lost(reason)
                except Exception:
                    log.exception("OPC UA %s: on_lost failed", self.name)

    async def _watch(self, lost: asyncio.Future[str], stop: asyncio.Event) -> str | None:
        """The reason the session was lost, or None once `stop` is set."""
        while not stop.is_set():
            wait = asyncio.wait_for(asyncio.shield(lost), self.settings.watchdog_interval)
            with contextlib.suppress(asyncio.TimeoutError):
                return await _until(stop, wait)
            now = time.monotonic()
            for last_activity, max_silence in self._watches:
                if now - last_activity() > max_silence:
                    return f"no publish response for {max_silence:g} s"
        return None

    def _up(self, client: Client, failures: int, down_since: float | None) -> None:
        self.client = client
        self.sessions += 1
        if down_since is None:
            log.info("OPC UA %s: connected", self.name)
        else:
            log.info(
                "OPC UA %s: %s after %.1f s (%d failed attempts)",
                self.name,
                "connected" if self.sessions == 1 else "session re-established",
                time.monotonic() - down_since,
                failures,
            )

    def _backoff(self, failures: int) -> float:
        s = self.settings
        nominal = min(s.backoff_initial * 2**failures, s.backoff_max)
        return nominal * random.uniform(1 - s.jitter, 1 + s.jitter)

    async def _connect(self, lost: asyncio.Future[str]) -> Client:
        s = self.settings
        client = Client(s.url, timeout=s.request_timeout, watchdog_intervall=s.watchdog_interval)
        client.session_timeout = round(s.session_timeout * 1000)

        async def connection_lost(exc: Exception) -> None:
            if not lost.done():
                lost.set_result(describe(exc))

        client.connection_lost_callback = connection_lost
        self._watches = []
        try:
            if self._configure is not None:
                await self._configure(client)
            await client.connect()
            namespaces = await client.get_namespace_array()
            await self._on_connected(client, list(namespaces))
        except BaseException:
            await self._close(client, healthy=False)
            raise
        return client

    async def _close(self, client: Client, healthy: bool) -> None:
        """Close the session if it is still there, and the socket in any case, quietly."""
        timeout = self.settings.request_timeout
        if healthy:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), timeout)
            return
        # A lost session is not worth a CloseSession (a hung server would hold it for a
        # request timeout): the socket goes first, which asyncua may not have closed (it
        # only marks the client disconnected), then close_session() stops asyncua's tasks
        # without sending anything. The server expires the session by itself.
        protocol = client.uaclient.protocol
        if protocol is not None:
            protocol.disconnect_socket()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close_session(), timeout)
        client.disconnect_socket()


async def _until(stop: asyncio.Event, work: Coroutine[Any, Any, T] | asyncio.Future[T]) -> T | None:
    """The result of `work`, or None (with `work` cancelled) once `stop` is set first."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return None
