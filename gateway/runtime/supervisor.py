"""`gateway run --workers N`: the supervisor process over N worker processes.

The supervisor has checked the tag maps already; it splits the connections into shards
(`shards.assign`), starts one worker per non-empty shard (`python -m gateway run PATHS
--worker I/N --link-fd FD`, in a session of its own so that a Ctrl-C reaches the supervisor
only), serves the one health endpoint of the gateway, and restarts a worker that ends
unexpectedly (crash, SIGKILL, OOM) with a growing backoff; the restarted worker reopens its
own buffer files and writes what they hold. SIGTERM/SIGINT is passed on to every worker (a
worker stops on the first it gets, from the supervisor or from a service manager that signals
them all, and ignores the rest), each drains as a one-process gateway does, and the
supervisor exits 0 only when every worker did; a second signal SIGKILLs the workers and the
supervisor exits 130. A worker that exits 2 (configuration or environment error, such as a
buffer directory in use) would fail again: the supervisor stops the others and exits 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.runtime.app import EXIT_INTERRUPTED, WRITE_GRACE
from gateway.runtime.shards import DIGEST_ENV
from gateway.telemetry.aggregate import WorkersHealth, WorkerView
from gateway.telemetry.metrics import Family

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0
STABLE_AFTER = 60.0  # a worker that ran this long starts over at the first backoff
STOP_GRACE = 30.0  # beyond drain_timeout + WRITE_GRACE: scans in progress, connecting


@dataclass
class Worker:
    """One worker slot: the process running it now, if any, and what happened to it."""

    index: int
    process: asyncio.subprocess.Process | None = None
    port: int | None = None
    restarts: int = 0
    returncode: int | None = None
    link: asyncio.StreamWriter | None = field(default=None, repr=False)


class Supervisor:
    """Starts, watches, restarts and stops the workers of one gateway."""

    def __init__(
        self,
        command: Sequence[str],
        workers: Sequence[int],
        count: int,
        drain_timeout: float,
        fingerprint: str = "",
    ) -> None:
        self.command = list(command)  # `python -m gateway ... run PATHS`, without --worker
        self.count = count
        self.workers = [Worker(i) for i in workers]
        self.drain_timeout = drain_timeout
        # which worker reads which connection, as this supervisor split them (shards.digest)
        self.env = {**os.environ, DIGEST_ENV: fingerprint} if fingerprint else None
        self.fatal = False
        self._stop = asyncio.Event()

    def view(self) -> WorkerView:
        return WorkerView(lambda: {w.index: w.port for w in self.workers}, self.own_metrics)

    def own_metrics(self) -> list[Family]:
        up = Family("gateway_worker_up", "gauge", "1 while the worker process runs and answers")
        restarts = Family(
            "gateway_worker_restarts_total", "counter", "times the worker was restarted"
        )
        for w in self.workers:
            labels = (("worker", str(w.index)),)
            up.samples.append((labels, float(w.port is not None)))
            restarts.samples.append((labels, float(w.restarts)))
        return [up, restarts]

    async def run(self, duration: float | None) -> int:
        """Run the workers until stopped; the exit code of `gateway run`."""
        keepers = [asyncio.create_task(self._keep(w)) for w in self.workers]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), duration)
        self._stop.set()
        self._signal_all(signal.SIGTERM)
        bound = self.drain_timeout + WRITE_GRACE + STOP_GRACE
        _, late = await asyncio.wait(keepers, timeout=bound)
        for w in self.workers:
            if w.process is not None and w.process.returncode is None:
                log.error("Worker %d did not stop within %.0f s; killing it.", w.index, bound)
                w.process.kill()
        await asyncio.gather(*keepers, return_exceptions=True)
        codes = {w.index: w.returncode for w in self.workers}
        log.info("Gateway stopped (workers' exit codes: %s).", codes)
        if self.fatal:
            return EXIT_CONFIG
        return 0 if not late and all(c == 0 for c in codes.values()) else 1

    async def _keep(self, worker: Worker) -> None:
        """Run one worker, restarting it while the gateway is not stopping."""
        backoff = FIRST_BACKOFF
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                code = await self._run_once(worker)
            except OSError as exc:  # no process at all (out of memory, too many processes)
                log.error("Worker %d could not be started: %s", worker.index, exc)
                code = 1
            worker.returncode = code
            if self._stop.is_set():
                return
            if code == EXIT_CONFIG:
                log.error("Worker %d exited with 2 (see its error above); stopping.", worker.index)
                self.fatal = True
                self._stop.set()
                return
            if loop.time() - started >= STABLE_AFTER:
                backoff = FIRST_BACKOFF
            log.error(
                "Worker %d ended unexpectedly (%s); restarting it in %.0f s.",
                worker.index,
                _describe(code),
                backoff,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            if self._stop.is_set():
                return
            worker.restarts += 1
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _run_once(self, worker: Worker) -> int:
        """Start the worker, learn its port, wait until it ends; its exit code (-N: signal)."""
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                "--worker",
                f"{worker.index}/{self.count}",
                "--link-fd",
                str(theirs.fileno()),
                "--drain-timeout",
                repr(self.drain_timeout),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                env=self.env,
            )
        finally:
            theirs.close()
        worker.process = process
        log.info("Worker %d started (pid %d).", worker.index, process.pid)
        reader, worker.link = await asyncio.open_connection(sock=ours)
        learn = asyncio.create_task(self._learn_port(worker, reader))
        try:
            return await process.wait()
        finally:
            learn.cancel()
            worker.port, worker.process = None, None
            worker.link.close()
            worker.link = None

    async def _learn_port(self, worker: Worker, reader: asyncio.StreamReader) -> None:
        """The worker reports its port once it handles signals; a stop that came before is
        passed on then (a SIGTERM while Python starts up would kill it instead)."""
        line = await reader.readline()
        if line.strip().isdigit():
            worker.port = int(line)
            if self._stop.is_set() and worker.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(signal.SIGTERM)
        await reader.read()  # the worker ending closes it

    def _signal_all(self, sig: int) -> None:
        """Signal every worker; SIGTERM only those that reported (the others get it then)."""
        for w in self.workers:
            if sig == signal.SIGTERM and w.port is None:
                continue
            if w.process is not None and w.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.process.send_signal(sig)

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        if not self._stop.is_set():
            log.info(
                "Stopping: every worker finishes its scans and writes what is buffered "
                "(a second signal exits at once)."
            )
            self._stop.set()
            return
        log.warning(
            "Second signal: exiting now, and every worker. Committed data stays in the "
            "buffers; what was read since the last commit is lost."
        )
        self._signal_all(signal.SIGKILL)  # what os._exit would do in each; they ignore SIGTERM
        os._exit(EXIT_INTERRUPTED)


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def worker_command(paths: Sequence[str], log_level: str) -> list[str]:
    """The command line of a worker, without its slot."""
    return [sys.executable, "-m", "gateway", "--log-level", log_level, "run", *paths]


async def supervise(
    command: Sequence[str],
    workers: Sequence[int],
    count: int,
    drain_timeout: float,
    duration: float | None,
    health: tuple[str, int] | None,
    fingerprint: str = "",
) -> int:
    """Serve the health endpoint, run the workers, return the exit code."""
    supervisor = Supervisor(command, workers, count, drain_timeout, fingerprint)
    server = None
    if health is not None:
        server = WorkersHealth(health[0], health[1], supervisor.view())
        await server.start()  # a taken port is an error now
    supervisor.install_signal_handlers()
    try:
        return await supervisor.run(duration)
    finally:
        if server is not None:
            await server.close()
