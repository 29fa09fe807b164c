"""Where a replay stands: written atomically after every acknowledged batch, so `--resume`
picks up after the last line every sink accepted (a batch in flight when the process died is
sent again: the same points, overwritten in the database)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from gateway.replay.reading import InputError

__all__ = ["ReplayState", "default_state_path", "load_state", "save_state"]

VERSION = 1


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
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the replay state: {exc}") from None
    try:
        if data.get("version") != VERSION:
            raise TypeError(f"version {data.get('version')!r}, expected {VERSION}")
        return ReplayState(**data)
    except TypeError as exc:
        raise InputError(f"{path}: not a replay state ({exc}); remove it to start over") from None


def save_state(path: Path, state: ReplayState) -> None:
    """Write the state atomically (a temporary file, fsynced, renamed over the old one)."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(asdict(state), handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
