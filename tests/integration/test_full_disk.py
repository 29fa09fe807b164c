"""The SQLite buffer on a really full filesystem: a 1 MiB tmpfs mounted in a user and mount
namespace (`unshare -rm`, no root needed), filled by another file. Skipped where the kernel
does not allow unprivileged namespaces."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import asyncio, json, logging, os, sys
from gateway.buffer.sqlite import SqliteBuffer
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.memory import MemorySink
from gateway.testing import soon

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

def lines(n, prefix):
    return [f"{prefix},site=a v={i}i,pad=\"{'x' * 200}\" {1_700_000_000_000 + i}" for i in range(n)]

async def main(d):
    buf = SqliteBuffer(d + "/b.sqlite", name="b")
    await buf.open()
    old, new = lines(500, "old"), lines(300, "new")
    more, last = lines(50, "more"), lines(20, "last")
    buf.put(old)
    await buf.persist()
    filler = open(d + "/filler", "wb", buffering=0)  # something else fills the disk
    try:
        while True:
            filler.write(b"\0" * 4096)
    except OSError:
        pass
    buf.put(new)
    await buf.persist()
    out = {"problem": buf.problem}
    sink = MemorySink()
    fwd = Forwarder(buf, sink, batch_size=100)
    out["flushed"] = await fwd.flush(soon(10))
    buf.put(more)
    await buf.persist()
    out["flushed_more"] = await fwd.flush(soon(10))
    out["sent_from_memory"] = buf.stats.unpersisted_sent
    filler.close()
    os.remove(d + "/filler")  # space is back
    buf.put(last)
    await buf.persist()
    out["problem_after"] = buf.problem
    out["flushed_last"] = await fwd.flush(soon(10))
    out["same"] = sink.lines == old + new + more + last
    out["written"] = len(sink.lines)
    await buf.close()
    again = SqliteBuffer(d + "/b.sqlite", name="b")
    await again.open()
    out["left"] = again.stats.depth
    await again.close()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"""


def unshare_works(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


def test_a_full_disk_neither_stops_the_data_nor_loses_or_repeats_a_line(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if not unshare_works(mount):
        pytest.skip("unprivileged user and mount namespaces are not available here")
    command = f'mount -t tmpfs -o size=1m tmpfs {mount} && exec {sys.executable} -c "$0" {mount}'
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", command, SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["problem"] == "disk full"
    assert out["flushed"]  # everything written while the disk is full
    assert out["flushed_more"]
    assert out["sent_from_memory"] == 350
    assert out["problem_after"] is None
    assert out["flushed_last"]
    assert out["same"], out["written"]  # every line once, in order
    assert out["left"] == 0  # nothing left to be sent a second time
    assert proc.stderr.count("ERROR") == 1  # once per episode
    assert "not durable" in proc.stderr
    assert "durable again" in proc.stderr
