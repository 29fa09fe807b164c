"""Where the tags that came from CSV rows were written: file, line and the columns given.

A shared tag list of 200 rows named by 500 devices is 100,000 tags; a path, a location and a
set of columns for each took more memory than the tags. Here the rows of one device are held
as runs of consecutive tags from one file: the lines in an array, the sets of given columns
each stored once.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from gateway.config.csvtags import Columns
from gateway.config.yamlwalk import DataPath


@dataclass
class _Run:
    """Consecutive tags of one device from consecutive rows of one CSV file."""

    start: int  # index of the first tag in the device's `tags`
    file: str
    columns: Columns
    lines: array[int] = field(default_factory=lambda: array("I"))
    given: list[frozenset[str]] = field(default_factory=list)


@dataclass(frozen=True)
class CsvRowAt:
    """One row: where it is and the columns it gave a value."""

    file: str
    line: int
    columns: Columns
    given: frozenset[str]


class CsvRowIndex:
    """Tag path (`devices`, i, `tags`, k) -> the CSV row it came from."""

    def __init__(self) -> None:
        self._runs: dict[DataPath, list[_Run]] = {}
        self._sets: dict[frozenset[str], frozenset[str]] = {}

    def add(
        self, tag_path: DataPath, file: str, line: int, columns: Columns, given: frozenset[str]
    ) -> None:
        runs = self._runs.setdefault(tag_path[:-1], [])
        index = tag_path[-1]
        last = runs[-1] if runs else None
        if (
            last is None
            or last.file != file
            or last.columns is not columns
            or last.start + len(last.lines) != index
        ):
            last = _Run(index, file, columns)
            runs.append(last)
        last.lines.append(line)
        last.given.append(self._sets.setdefault(given, given))

    def row_of(self, path: DataPath) -> CsvRowAt | None:
        """The row of the tag `path` is in (or is), None when it is not from a CSV file."""
        if len(path) < 4:
            return None
        runs = self._runs.get(path[:3])
        index = path[3]
        if runs is None or not isinstance(index, int):
            return None
        for run in runs:
            offset = index - run.start
            if 0 <= offset < len(run.lines):
                return CsvRowAt(run.file, run.lines[offset], run.columns, run.given[offset])
        return None
