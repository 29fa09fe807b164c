"""One health and metrics endpoint for a gateway of several worker processes.

The supervisor asks each running worker's own endpoint (127.0.0.1, a port the worker chose)
when it is asked itself: /readyz is ready only when every worker is ready, and its text names
the workers that are not; /metrics is every worker's metrics with a `worker` label added to
each series (the names stay those of a one-process gateway), plus the supervisor's own
`gateway_worker_*` series.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.telemetry.health import HealthServer
from gateway.telemetry.metrics import Family, render_prometheus

ASK_TIMEOUT = 5.0  # a worker busy reading keeps answering; one that does not is reported


async def http_get(port: int, path: str, timeout: float = ASK_TIMEOUT) -> tuple[int, str]:
    """GET http://127.0.0.1:<port><path>: (status, body)."""

    async def ask() -> tuple[int, str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body.decode()

    return await asyncio.wait_for(ask(), timeout)


def add_label(text: str, name: str, value: str) -> list[str]:
    """The sample lines of a Prometheus text with `name="value"` first in every label set;
    comment lines are dropped (the caller writes HELP and TYPE once per metric)."""
    out = []
    label = f'{name}="{value}"'
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        metric, brace, rest = line.partition("{")
        if brace:
            out.append(f"{metric}{{{label}{'' if rest.startswith('}') else ','}{rest}")
        else:
            metric, _, number = line.partition(" ")
            out.append(f"{metric}{{{label}}} {number}")
    return out


def merge_metrics(texts: Mapping[int, str], own: Sequence[Family] = ()) -> str:
    """The workers' metrics (worker index -> its Prometheus text) as one text, the series of
    each metric together under one HELP and TYPE, then the supervisor's own families."""
    heads: dict[str, list[str]] = {}
    samples: dict[str, list[str]] = {}
    for worker, text in sorted(texts.items()):
        for line in text.splitlines():
            if line.startswith(("# HELP ", "# TYPE ")):
                heads.setdefault(line.split(" ", 3)[2], []).append(line)
        for line in add_label(text, "worker", str(worker)):
            name = line.partition("{")[0]
            samples.setdefault(name, []).append(line)
    out = []
    for name, lines in samples.items():
        out += list(dict.fromkeys(heads.get(name, [])))
        out += lines
    merged = "\n".join(out) + "\n" if out else ""
    return merged + (render_prometheus(list(own)) if own else "")


def combine_readiness(answers: Mapping[int, tuple[bool, str] | None]) -> tuple[bool, str]:
    """Ready when every worker is; None for a worker not running (starting or restarting)."""
    parts, ready = [], True
    for worker, answer in sorted(answers.items()):
        if answer is None:
            parts.append(f"worker {worker}: not running")
            ready = False
            continue
        ok, text = answer
        ready = ready and ok
        parts.append(f"worker {worker}: {text.strip().removeprefix('ready: ')}")
    text = "; ".join(parts)
    return ready, (f"ready: {text}" if ready else text)


@dataclass
class WorkerView:
    """What the endpoint needs of the supervisor: the port of each worker to start (None
    while it is not running) and the supervisor's own metrics."""

    ports: Callable[[], Mapping[int, int | None]]
    own_metrics: Callable[[], Sequence[Family]]


class WorkersHealth(HealthServer):
    """/healthz, /readyz and /metrics of the whole gateway, from its workers' endpoints."""

    def __init__(self, host: str, port: int, view: WorkerView) -> None:
        super().__init__(host, port, lambda: (False, "starting"), lambda: "")
        self.view = view

    async def answer(self, method: str, path: str) -> tuple[int, str, str]:
        route = path.split("?", 1)[0]
        if method != "GET" or route not in ("/readyz", "/metrics"):
            return self.respond(method, path)
        ports = dict(self.view.ports())
        replies = await asyncio.gather(
            *(self._ask(port, route) for port in ports.values()), return_exceptions=True
        )
        answers: dict[int, tuple[int, str] | None] = {}
        for worker, reply in zip(ports, replies, strict=True):
            answers[worker] = reply if isinstance(reply, tuple) else None
        if route == "/readyz":
            ok, text = combine_readiness(
                {w: None if a is None else (a[0] == 200, a[1]) for w, a in answers.items()}
            )
            return (200 if ok else 503), "text/plain", text + "\n"
        texts = {w: a[1] for w, a in answers.items() if a is not None and a[0] == 200}
        body = merge_metrics(texts, self.view.own_metrics())
        return 200, "text/plain; version=0.0.4; charset=utf-8", body

    @staticmethod
    async def _ask(port: int | None, route: str) -> tuple[int, str] | None:
        if port is None:
            return None
        return await http_get(port, route)
