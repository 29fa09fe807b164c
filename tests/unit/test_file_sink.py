"""FileSink: acknowledged writes are on disk, rotation by size, bounded number of old files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from gateway.errors import RetryableSinkError
from gateway.sinks.file import FileSink

ROTATED = re.compile(r"gw-\d{8}T\d{12}\.lp")


def line(i: int) -> str:
    return f"m,device=d f={i}i,f_quality=0i {1_700_000_000_000 + i}"  # 44 bytes + newline


async def test_writes_land_on_disk_and_append(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "dir"
    sink = FileSink(directory, prefix="gw")
    await sink.start()
    await sink.write([line(1), line(2)])
    # Read through a separate handle: the data must be out of the process buffers.
    assert (directory / "gw.lp").read_text() == f"{line(1)}\n{line(2)}\n"
    await sink.write([])
    await sink.write([line(3)])
    await sink.close()
    await sink.close()  # idempotent

    reopened = FileSink(directory, prefix="gw")
    await reopened.write([line(4)])  # without start(): opens lazily, appends
    await reopened.close()
    assert (directory / "gw.lp").read_text().splitlines() == [line(i) for i in (1, 2, 3, 4)]


async def test_write_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    sink = FileSink(tmp_path)
    await sink.write([line(1)])
    await sink.close()
    assert synced, "write() returned without fsync"


async def test_rotation_at_max_bytes(tmp_path: Path) -> None:
    size = len(line(0)) + 1
    sink = FileSink(tmp_path, prefix="gw", max_bytes=3 * size, keep=10)
    await sink.write([line(0), line(1)])
    await sink.write([line(2)])  # exactly max_bytes: no rotation yet
    assert sorted(os.listdir(tmp_path)) == ["gw.lp"]
    await sink.write([line(3)])  # would exceed: rotate first
    rotated = sink.rotated_files()
    assert len(rotated) == 1
    assert ROTATED.fullmatch(rotated[0].name)
    assert rotated[0].read_text().splitlines() == [line(0), line(1), line(2)]
    assert (tmp_path / "gw.lp").read_text().splitlines() == [line(3)]
    await sink.close()


async def test_a_write_larger_than_max_bytes_goes_whole_into_a_fresh_file(
    tmp_path: Path,
) -> None:
    sink = FileSink(tmp_path, prefix="gw", max_bytes=100)
    await sink.write([line(0)])
    big = [line(i) for i in range(1, 6)]
    await sink.write(big)
    await sink.close()
    assert [p.read_text().splitlines() for p in sink.rotated_files()] == [[line(0)]]
    assert (tmp_path / "gw.lp").read_text().splitlines() == big


async def test_keep_count_is_honoured_and_newest_kept(tmp_path: Path) -> None:
    sink = FileSink(tmp_path, prefix="gw", max_bytes=1, keep=3)
    for i in range(8):  # every write after the first rotates
        await sink.write([line(i)])
    await sink.close()
    rotated = sink.rotated_files()
    assert [p.read_text() for p in rotated] == [f"{line(i)}\n" for i in (4, 5, 6)]
    assert all(ROTATED.fullmatch(p.name) for p in rotated)
    assert len({p.name for p in rotated}) == 3  # same-microsecond rotations get distinct names
    assert (tmp_path / "gw.lp").read_text() == f"{line(7)}\n"
    # Files that are not ours are left alone.
    assert sorted(os.listdir(tmp_path)) == sorted(["gw.lp", *(p.name for p in rotated)])


async def test_keep_zero_deletes_rotated_files_and_other_files_untouched(tmp_path: Path) -> None:
    (tmp_path / "gw-notes.lp").write_text("mine")
    (tmp_path / "other-20240101T000000000000.lp").write_text("other prefix")
    sink = FileSink(tmp_path, prefix="gw", max_bytes=1, keep=0)
    for i in range(3):
        await sink.write([line(i)])
    await sink.close()
    assert sorted(os.listdir(tmp_path)) == [
        "gw-notes.lp",
        "gw.lp",
        "other-20240101T000000000000.lp",
    ]


async def test_rotation_continues_after_restart(tmp_path: Path) -> None:
    first = FileSink(tmp_path, prefix="gw", max_bytes=1, keep=2)
    await first.write([line(0)])
    await first.write([line(1)])
    await first.close()
    second = FileSink(tmp_path, prefix="gw", max_bytes=1, keep=2)
    await second.write([line(2)])
    await second.write([line(3)])
    await second.close()
    assert [p.read_text() for p in second.rotated_files()] == [f"{line(i)}\n" for i in (1, 2)]
    assert (tmp_path / "gw.lp").read_text() == f"{line(3)}\n"


async def test_os_error_becomes_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    sink = FileSink(blocker / "sub")
    with pytest.raises(RetryableSinkError, match="file"):
        await sink.start()
    with pytest.raises(RetryableSinkError):
        await sink.write([line(0)])
    await sink.close()


async def test_failed_write_leaves_no_partial_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FileSink(tmp_path, prefix="gw")
    await sink.write([line(0)])
    calls = 0
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(RetryableSinkError, match="No space left"):
        await sink.write([line(1), line(2)])
    await sink.write([line(1), line(2)])  # the forwarder's retry
    await sink.close()
    assert (tmp_path / "gw.lp").read_text().splitlines() == [line(0), line(1), line(2)]


def test_invalid_settings() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        FileSink("x", max_bytes=0)
    with pytest.raises(ValueError, match="keep"):
        FileSink("x", keep=-1)
