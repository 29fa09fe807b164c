"""Which worker process reads which connection, and where each worker keeps its buffer.

The assignment is a pure function of the tag maps and the number of workers, so every start
with the same maps gives each connection the same worker, and so the same buffer files.
Each connection weighs the values per second it offers (sum over its tags of 1 / scan rate);
the heaviest go first, each to the least loaded worker (ties: the lower index), which keeps
the shards within one connection of each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from gateway.collectors.base import ConnectionPlan
from gateway.config import LoadedConfig
from gateway.config.models import BufferConfig, DeviceFields
from gateway.config.tagplan import scan_interval
from gateway.runtime.sinkset import effective_sinks

log = logging.getLogger("gateway.runtime.supervisor")


def weight(plan: ConnectionPlan, devices: dict[str, DeviceFields]) -> float:
    """Values per second the connection offers (at least a little, so that a connection of
    devices without tags still counts)."""
    total = 0.0
    for name in plan.devices:
        device = devices.get(name)
        if device is not None:
            total += sum(1.0 / scan_interval(tag, device) for tag in device.tags)
    return max(total, 1e-9)


def assign(
    plans: Sequence[ConnectionPlan], devices: Sequence[DeviceFields], workers: int
) -> list[list[ConnectionPlan]]:
    """The connections of each of `workers` workers (a list per worker, some maybe empty)."""
    by_name = {d.name: d for d in devices}
    weighted = sorted(((weight(p, by_name), p.name, i) for i, p in enumerate(plans)))
    weighted.sort(key=lambda item: (-item[0], item[1], item[2]))
    shards: list[list[ConnectionPlan]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for w, _, index in weighted:
        target = min(range(workers), key=lambda k: (load[k], k))
        shards[target].append(plans[index])
        load[target] += w
    for shard in shards:  # the order of the tag maps within each worker
        shard.sort(key=plans.index)
    return shards


#: the environment variable that carries the supervisor's `digest` to its workers
DIGEST_ENV = "GATEWAY_SHARDS"


def digest(shards: Sequence[Sequence[ConnectionPlan]]) -> str:
    """A short fingerprint of which worker reads which connection. A worker (re)started after
    the tag maps were edited would split them anew and could read a connection another
    worker reads, or leave one unread: it compares this with the supervisor's and refuses."""
    text = "\n".join(f"{i} {plan.name}" for i, shard in enumerate(shards) for plan in shard)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def started(shards: Sequence[Sequence[ConnectionPlan]]) -> list[int]:
    """The workers to start: those with connections, and worker 0 always (with nothing to
    read it still writes what its buffer holds)."""
    return [i for i, shard in enumerate(shards) if shard or i == 0]


def worker_directory(directory: str | Path, index: int) -> Path:
    """Worker 0 keeps the files of a one-process gateway (so going from one worker to several
    and back loses nothing); worker i > 0 has `<directory>/worker-<i>/`."""
    return Path(directory) if index == 0 else Path(directory) / f"worker-{index}"


def worker_config(config: LoadedConfig, index: int, env: Mapping[str, str]) -> LoadedConfig:
    """The configuration of worker `index`: its own buffer directory (buffer files and
    dead-letter files) and, for a file sink, its own file prefix, since one file is written
    by one process only."""
    if index == 0:
        return config
    buffering = config.buffer or BufferConfig()
    buffer = buffering.model_copy(
        update={"directory": str(worker_directory(buffering.directory, index))}
    )
    sinks = config.sinks
    chosen = effective_sinks(sinks, env)  # the default file sink too
    if chosen.file is not None:
        file = chosen.file.model_copy(update={"prefix": f"{chosen.file.prefix}-worker{index}"})
        sinks = chosen.model_copy(update={"file": file})
    return dataclasses.replace(config, buffer=buffer, sinks=sinks)


def left_behind(directory: str | Path, running: Sequence[int]) -> dict[Path, int]:
    """Buffer files under `<directory>/worker-<i>/` of workers not running now (a start with
    fewer workers or connections than before) that still hold lines: file -> lines. Those
    lines wait there until worker i runs again."""
    found: dict[Path, int] = {}
    for sub in sorted(Path(directory).glob("worker-*")):
        index = sub.name.removeprefix("worker-")
        if not index.isdigit() or int(index) in running:
            continue
        for file in sorted(sub.glob("*.sqlite")):
            try:
                with contextlib.closing(
                    sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)
                ) as db:
                    (held,) = db.execute("SELECT count(*) FROM lines").fetchone()
            except sqlite3.Error:
                continue  # not a buffer, or unreadable: the worker that owns it will say
            if held:
                found[file] = int(held)
    return found


def warn_left_behind(directory: str | Path, running: Sequence[int]) -> None:
    """Say at WARNING which worker buffers of workers not running now still hold lines."""
    for file, lines in left_behind(directory, running).items():
        log.warning(
            "%s holds %d lines of a worker this start does not run; they are written when "
            "it runs again (more workers, or more connections).",
            file,
            lines,
        )
