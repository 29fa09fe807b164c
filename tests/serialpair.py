"""A serial line for the tests: two pseudo-terminals joined by `socat` (Debian's `socat`,
installed by `make test`). What one end writes the other reads, as on a null-modem cable; a
pty has no baud rate, so line timing is whatever the two ends make of it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import spawn_until_ready


@contextmanager
def pty_pair(where: Path, name: str = "line") -> Iterator[tuple[str, str]]:
    """Two linked serial devices `where/NAME-a` and `where/NAME-b` (symlinks to the ptys),
    for as long as the block runs."""
    socat = shutil.which("socat")
    if socat is None:
        raise RuntimeError("socat is not installed: run `make test` (it installs it)")
    a, b = where / f"{name}-a", where / f"{name}-b"
    command = [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"]
    with open(where / f"{name}-socat.log", "wb") as log:
        proc, ready = spawn_until_ready(command, log, lambda: a.exists() and b.exists(), 10.0)
    try:
        if not ready:
            raise RuntimeError(f"socat did not create {a} and {b}: see {where}/{name}-socat.log")
        yield str(a), str(b)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
