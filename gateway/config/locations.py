"""The file and line of every key and list item of a tag-map file, found again on demand.

A map of 100,000 tags has about a million keys; keeping a path and a line for each of them
cost more memory than everything else the gateway holds. Lines are kept for the shallow
paths (the top-level sections and each device's own keys), which every load asks for. The
first question about a deeper path walks the file again, recording the lines inside that one
device; a question about a second device walks it once more, recording every line. Only a
problem or a warning inside a tag asks such a question.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gateway.config.yamlwalk import DataPath

Where = tuple[str, int]

#: paths of up to this many parts are kept from the first walk: ("devices", 3, "endpoint")
SHALLOW = 3


class Locations:
    """path -> (file, 1-based line), shallow paths kept, deeper ones derived when asked."""

    def __init__(
        self,
        shallow: dict[DataPath, Where] | None = None,
        derive: Callable[[DataPath | None], dict[DataPath, Where]] | None = None,
        depth: int = SHALLOW,
    ) -> None:
        self.shallow: dict[DataPath, Where] = {} if shallow is None else shallow
        self.depth = depth if derive is not None else 1 << 30
        self._derive = derive
        self._full: dict[DataPath, Where] | None = None
        self._one: tuple[DataPath, dict[DataPath, Where]] | None = None  # one device's lines
        self.added: dict[DataPath, Where] = {}  # set by the loader (CSV rows), not in the file

    def get(self, path: DataPath) -> Where | None:
        found = self.added.get(path)
        if found is not None or len(path) <= self.depth:
            return found if found is not None else self.shallow.get(path)
        if any(path[:size] in self.added for size in range(self.depth + 1, len(path))):
            return None  # below a value that did not come from this file
        return self._deep(path).get(path)

    def _deep(self, path: DataPath) -> dict[DataPath, Where]:
        if self._full is not None or self._derive is None:
            return self.full()
        device = path[: self.depth - 1]  # ("devices", 3)
        if self._one is None:
            self._one = (device, self._derive(device))
        if self._one[0] == device:
            return self._one[1]
        self._one = None
        return self.full()

    def full(self) -> dict[DataPath, Where]:
        """Every location of the file (walking it again the first time)."""
        if self._derive is None:
            return self.shallow
        if self._full is None:
            self._full = self._derive(None)
        return self._full

    def __setitem__(self, path: DataPath, where: Where) -> None:
        self.added[path] = where

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self.get(path) is not None

    def __bool__(self) -> bool:
        return bool(self.shallow or self.added)

    def __iter__(self) -> Iterator[DataPath]:
        yield from self.full()
        yield from (path for path in self.added if path not in self.full())
