"""Where a replay stands: written atomically after every acknowledged batch, so `--resume`
picks up after the last line every sink accepted (a batch in flight when the process died is
sent again: the same points, overwritten in the database)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from gateway.replay.reading import InputError

__all__ = [
    "ReplayState",
    "StateError",
    "default_state_path",
    "load_state",
    "locked",
    "save_state",
]

VERSION = 1
FIX = "delete it, or run without --resume"


class StateError(InputError):
    """The state file cannot be read as a replay state, written, or locked."""


@dataclass
class ReplayState:
    """`inputs`: the files of the replay in order; `file`: the index of the current one;
    `offset`/`line`: the byte offset after, and the number of, its last line done; `shift_ns`:
    the offset added to every timestamp (kept, so a resumed `--shift now` run moves its lines
    as the first run did); the counts so far."""

    inputs: list[str]
    shift_ns: int = 0
    file: int = 0
    offset: int = 0
    line: int = 0
    read: int = 0
    refused: int = 0
    malformed: int = 0
    written: int = 0
    version: int = VERSION

    def where(self) -> str:
        name = self.inputs[self.file] if self.file < len(self.inputs) else "the end"
        return f"{name}:{self.line}"


def default_state_path(source: str | Path) -> Path:
    """Beside the input: `<FILE>.replay-state.json`, or `DIR/.replay-state.json`."""
    path = Path(source)
    if path.is_dir():
        return path / ".replay-state.json"
    return path.with_name(path.name + ".replay-state.json")


def load_state(path: Path) -> ReplayState | None:
    """The state written by an earlier run (None: there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: cannot read the replay state ({exc}); {FIX}") from None
    try:
        return _parse(json.loads(text))
    except ValueError as exc:
        raise StateError(f"{path}: not a replay state ({exc}); {FIX}") from None


def _parse(data: Any) -> ReplayState:
    """The state of decoded JSON, every field of its type (ValueError saying which not)."""
    if not isinstance(data, dict):
        raise ValueError(f"a JSON object expected, not {type(data).__name__}")
    if data.get("version") != VERSION:
        raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
    known = {f.name for f in fields(ReplayState)}
    if unknown := sorted(set(data) - known):
        raise ValueError(f"unknown field {unknown[0]!r}")
    inputs = data.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise ValueError("`inputs` is not a list of file names")
    for name in known - {"inputs"}:
        value = data.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"`{name}` is not an integer")
        if value < 0 and name != "shift_ns":  # a position or a count
            raise ValueError(f"`{name}` is negative")
    if data.get("file", 0) > len(inputs):
        raise ValueError("`file` is past the end of `inputs`")
    return ReplayState(**data)


def save_state(path: Path, state: ReplayState) -> None:
    """Write the state atomically (a temporary file, fsynced, renamed over the old one)."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(asdict(state), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise StateError(f"{path}: cannot write the state: {exc.strerror or exc}") from None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `PATH.lock` (one replay per state file), removed after."""
    lock = path.with_name(path.name + ".lock")
    while True:
        try:
            handle = lock.open("a")
        except OSError as exc:
            raise StateError(
                f"{lock}: cannot create the lock: {exc.strerror or exc}; give another place "
                f"with --state PATH"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StateError(f"another replay is using {path}") from None
        # the holder before may have removed the file between our open and our lock
        if _same_file(handle.fileno(), lock):
            break
        handle.close()
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        handle.close()


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(descriptor), path.stat())
    except OSError:
        return False
