"""Real processes for the tests: the `gateway` command, and the database servers' start-up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


async def start_gateway(
    *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    """`python -m gateway ARGS...` from the repository root, stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def start_simulators(*args: str) -> asyncio.subprocess.Process:
    """`python -m simulators ARGS...` from the repository root, its stderr piped (where it
    announces its endpoints), stdout discarded."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def spawn_until_ready(
    command: list[str], log: IO[bytes], ready: Callable[[], bool], timeout: float
) -> tuple[subprocess.Popen[bytes], bool]:
    """Start a server process (output to `log`) and wait until `ready()` (True), it exits or
    `timeout` passes (False; the caller stops it)."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            return proc, True
        time.sleep(0.05)  # an external process starting: nothing to await
    return proc, False
