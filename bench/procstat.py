"""CPU time and peak memory of a process and its descendants, from the kernel's accounting in
/proc (Linux), read from outside: the measured process runs unchanged.

CPU: utime + stime of every live process of the tree, plus cutime + cstime of each (what its
children that already exited and were waited for used). Peak RSS: the sum of VmHWM of every
live process of the tree (each worker's own high-water mark; they are not simultaneous, so the
sum is an upper bound of the tree's peak).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (this kernel may lack /proc/<pid>/task/*/children)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its live descendants."""
    kids: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        kids.setdefault(parent, []).append(child)
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += kids.get(current, [])
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the tree rooted at `pid`."""
    total = 0
    for member in tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue  # exited meanwhile: its parent's cutime will have it once waited for
        # after the name: state=0 ... utime=11 stime=12 cutime=13 cstime=14
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / TICKS


def peak_rss_bytes(pid: int) -> int:
    """Sum of VmHWM over the live tree rooted at `pid`."""
    total = 0
    for member in tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def wait_while_running(
    event: threading.Event, proc: subprocess.Popen[bytes], timeout: float
) -> bool:
    """Wait until `event` is set: False when `proc` ended, or `timeout` passed, before."""
    deadline = time.monotonic() + timeout
    while not event.wait(0.05):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
    return True
