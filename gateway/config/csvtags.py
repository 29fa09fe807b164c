"""Tag lists in CSV files (`tags_csv:` on a device), one tag per row.

The header row names the columns; an empty cell means "not set". Lines starting with `#` and
blank lines are skipped; a cell cannot span lines. Cells stay strings: validation turns "3"
into 3 and "1.5" into 1.5. Each protocol names its own columns (`Columns`), on top of those
every tag has (`COMMON`). Column -> tag field:

    name unit scan heartbeat measurement field description     the field of the same name
    scale_factor scale_offset       scale.factor, scale.offset
    raw_low raw_high eng_low eng_high   scale.raw, scale.eng ([low, high] pairs)
    range_low range_high            range
    deadband_absolute deadband_percent  deadband.absolute, deadband.percent
"""

from __future__ import annotations

import csv
import difflib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.config.yamlsource import DataPath, relative_to

_DIRECT = ("name", "unit", "scan", "heartbeat", "measurement", "field", "description")

#: column -> where its value goes in the tag (an int is an index in a [low, high] pair)
COMMON: dict[str, DataPath] = {
    **{name: (name,) for name in _DIRECT},
    "scale_factor": ("scale", "factor"),
    "scale_offset": ("scale", "offset"),
    "raw_low": ("scale", "raw", 0),
    "raw_high": ("scale", "raw", 1),
    "eng_low": ("scale", "eng", 0),
    "eng_high": ("scale", "eng", 1),
    "range_low": ("range", 0),
    "range_high": ("range", 1),
    "deadband_absolute": ("deadband", "absolute"),
    "deadband_percent": ("deadband", "percent"),
}


@dataclass(frozen=True)
class Columns:
    """The CSV columns of one protocol's tags: column -> tag path, and those required."""

    columns: Mapping[str, DataPath]
    required: tuple[str, ...] = ("name",)

    @classmethod
    def extend(cls, own: Sequence[str], required: Sequence[str]) -> Columns:
        """`COMMON` plus the protocol's own columns (each one tag field of the same name)."""
        return cls({**COMMON, **{name: (name,) for name in own}}, ("name", *required))


@dataclass
class CsvRow:
    """One data row turned into a tag mapping."""

    line: int
    tag: dict[str, Any]
    columns: frozenset[str]  # the columns with a value in this row
    problems: list[tuple[DataPath, str]] = field(default_factory=list)  # tag-relative path


@dataclass
class CsvMerge:
    """A device mapping with the rows of its `tags_csv` files appended to its `tags`."""

    device: dict[Any, Any]
    #: (tag path, CSV file, row) of every row appended
    rows: list[tuple[DataPath, str, CsvRow]] = field(default_factory=list)
    #: (tags_csv entry path, message) of files that could not be read
    unreadable: list[tuple[DataPath, str]] = field(default_factory=list)
    #: (CSV file, line, tags_csv entry path, message) of problems in the files themselves
    problems: list[tuple[str, int, DataPath, str]] = field(default_factory=list)


@dataclass
class CsvTable:
    """The rows of one CSV file and the problems of the file itself (by line)."""

    rows: list[CsvRow] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None  # the file could not be read at all


def read_csv_tags(path: str, columns: Columns) -> CsvTable:
    """Read the CSV file at `path`."""
    table = CsvTable()
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            lines = stream.read().splitlines()
    except OSError as exc:
        table.error = f"cannot read {path}: {exc.strerror}"
        return table
    except UnicodeDecodeError:
        table.error = f"{path} is not UTF-8 text"
        return table
    header: list[str] | None = None
    for number, cells in _records(lines, table):
        if header is None:
            header = cells
            if not _check_header(number, header, table, columns):
                return table
        elif any(cells):
            _add_row(number, header, cells, table, columns)
    if header is None:
        table.problems.append(
            (1, f"no header row (expected column names such as {','.join(columns.required)})")
        )
    return table


def merge_csv_tags(
    device: dict[Any, Any],
    path: DataPath,
    yaml_file: str,
    columns: Columns,
    tables: dict[tuple[str, int], CsvTable] | None = None,
) -> CsvMerge:
    """Append the rows of `device`'s `tags_csv` files (relative to `yaml_file`) to its tags.

    Nothing is merged when `tags_csv` or `tags` have the wrong shape (validation says so).
    A file named by many devices is read once per `tables` (the loader keeps one per load);
    each device gets its own copy of the rows, sharing their texts.
    """
    given = device.get("tags_csv")
    tags = device.get("tags", [])
    merge = CsvMerge(device)
    entries: list[tuple[DataPath, str]] = []
    if isinstance(given, str):
        entries = [((*path, "tags_csv"), given)]
    elif isinstance(given, list):
        entries = [((*path, "tags_csv", i), e) for i, e in enumerate(given) if isinstance(e, str)]
    if not entries or not isinstance(tags, list):
        return merge
    tags = list(tags)
    for entry_path, entry in entries:
        csv_file = relative_to(yaml_file, entry)
        table = _table(csv_file, columns, tables)
        if table.error:
            merge.unreadable.append((entry_path, table.error))
        for line, message in table.problems:
            merge.problems.append((csv_file, line, entry_path, message))
        for row in table.rows:
            merge.rows.append(((*path, "tags", len(tags)), csv_file, row))
            tags.append(_copy(row.tag))
    merge.device = {**device, "tags": tags}
    return merge


def _table(
    csv_file: str, columns: Columns, tables: dict[tuple[str, int], CsvTable] | None
) -> CsvTable:
    if tables is None:
        return read_csv_tags(csv_file, columns)
    key = (os.path.realpath(csv_file), id(columns))  # a protocol's columns live as long
    table = tables.get(key)
    if table is None:
        table = tables[key] = read_csv_tags(csv_file, columns)
    return table


def _copy(value: Any) -> Any:
    """The containers of a row's tag copied (substitution changes them in place)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def column_of(rel: DataPath, given: frozenset[str], columns: Columns) -> str:
    """' (column x)' for a tag-relative path, naming the columns given when several fit."""
    known = columns.columns
    names = [name for name, where in known.items() if where[: len(rel)] == rel]
    if not names:
        names = [name for name, where in known.items() if rel[: len(where)] == where]
    if len(names) > 1:
        names = [name for name in names if name in given] or names
    if not names:
        return ""
    label = "column" if len(names) == 1 else "columns"
    return f" ({label} {', '.join(names)})"


def _records(lines: list[str], table: CsvTable) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, stripped cells) of the lines that are not blank or comments."""
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            table.problems.append((number, f"malformed CSV line: {exc}"))
            continue
        yield number, [cell.strip() for cell in cells]


def _check_header(number: int, header: list[str], table: CsvTable, columns: Columns) -> bool:
    known = columns.columns
    ok = True
    suggested: set[str] = set()
    for index, name in enumerate(header):
        if not name:
            table.problems.append((number, f"column {index + 1} has no name"))
        elif name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggested.update(hint)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            table.problems.append((number, f"unknown column {name!r}{suggestion}"))
        elif name in header[:index]:
            table.problems.append((number, f"column {name!r} appears twice"))
        else:
            continue
        ok = False
    for name in columns.required:
        if name not in header and name not in suggested:
            table.problems.append((number, f"missing column {name!r}"))
            ok = False
    return ok


def _add_row(
    number: int, header: list[str], cells: list[str], table: CsvTable, columns: Columns
) -> None:
    known = columns.columns
    if len(cells) != len(header):
        table.problems.append(
            (number, f"the row has {len(cells)} cells, the header has {len(header)} columns")
        )
        return
    values = {name: cell for name, cell in zip(header, cells, strict=True) if cell}
    row = CsvRow(number, {}, frozenset(values))
    pairs: dict[DataPath, dict[int, str]] = {}
    for name, cell in values.items():
        where = known[name]
        if isinstance(where[-1], int):
            pairs.setdefault(where[:-1], {})[where[-1]] = cell
        else:
            _put(row.tag, where, cell)
    for where, pair in pairs.items():
        if len(pair) == 2:
            _put(row.tag, where, [pair[0], pair[1]])
        else:
            low, high = (n for n, w in known.items() if w[:-1] == where)
            given, empty = (low, high) if 0 in pair else (high, low)
            row.problems.append((where, f"{given} is given but {empty} is empty"))
    table.rows.append(row)


def _put(target: dict[str, Any], where: DataPath, value: Any) -> None:
    for key in where[:-1]:
        target = target.setdefault(key, {})
    target[where[-1]] = value
