"""What the Flux queries of the Grafana dashboards read, held against what the gateway writes
(tests/unit/test_dashboards.py).

The names are found with regular expressions over the forms the dashboards use:
`r._measurement == "cell"`, `r._field == "a" or r._field == "b"`, `r._field =~ /^(a|b)$/` or any
other regex (it must match a written field), `r.tag` / `r["tag"]`, `group(columns: [...])`,
`keep(columns: [...])`, `pivot(rowKey: [...], columnKey: [...])`, `column: "..."` and
`schema.tagValues(tag: "...")`. Columns a query makes itself (the keys of a record it builds,
`rename`, `set`, `duplicate`) are not held against the written tag keys. A query that mixes
`and` and `or` without parentheses is refused too (tests/fluxlogic.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gateway.model import Point
from gateway.sinks.lineprotocol import parse_line
from tests.fluxlogic import mixed_logic

#: the columns every table read from InfluxDB has, whatever was written
BUILTIN = frozenset({"_time", "_value", "_field", "_measurement", "_start", "_stop"})
#: the fields the line protocol adds next to each tag's value (gateway/sinks/lineprotocol.py)
SUFFIXES = ("_quality", "_reason")

_COLUMN = r'\br(?:\.(\w+)|\[\s*"([^"]+)"\s*\])'
_EQUALS = re.compile(_COLUMN + r'\s*(==|!=)\s*"([^"]*)"')
_MATCHES = re.compile(_COLUMN + r"\s*(=~|!~)\s*/((?:\\/|[^/])*)/")
_ANY_COLUMN = re.compile(_COLUMN)
_LISTS = re.compile(r"\b(?:columns|rowKey|columnKey)\s*:\s*\[([^\]]*)\]")
_ONE = re.compile(r'\b(?:column|valueColumn|timeColumn|stopColumn|tag)\s*:\s*"([^"]+)"')
_MADE = re.compile(r'\b(?:as|key|columnName)\s*:\s*"([^"]+)"')
_RENAME = re.compile(r"rename\(\s*columns\s*:\s*\{([^}]*)\}")
_RECORD = re.compile(r"\(\{|identity\s*:\s*\{")
_STRING = re.compile(r'"([^"]+)"')
_ALTERNATIVES = re.compile(r"\^\(?(\w+(?:\|\w+)*)\)?\$")

#: measurement -> field -> the tag keys of the lines that carry it
Written = dict[str, dict[str, frozenset[str]]]


@dataclass(frozen=True)
class Query:
    where: str  # "potline.json: panel 'Cell voltage' A"
    text: str


@dataclass
class Names:
    """The names one query reads."""

    measurements: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    field_patterns: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    made: set[str] = field(default_factory=set)
    pivots: bool = False


def dashboard_queries(name: str, board: dict[str, Any]) -> list[Query]:
    """Every query of a dashboard: panels (also inside rows), annotations, variables."""
    found = []
    for panel in walk_panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            found.append(
                Query(f"{name}: panel {panel['title']!r} {target['refId']}", target["query"])
            )
    for note in board.get("annotations", {}).get("list", []):
        found.append(Query(f"{name}: annotation {note['name']!r}", note["target"]["query"]))
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            text = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
            found.append(Query(f"{name}: variable {var['name']!r}", text))
    return found


def walk_panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def _literals(pattern: str) -> list[str] | None:
    """The names a regex such as `^(a|b)$` or `^a$` matches exactly, or None for another."""
    whole = _ALTERNATIVES.fullmatch(pattern)
    return whole.group(1).split("|") if whole else None


def _record_keys(text: str, start: int) -> list[str]:
    """The keys of the record literal opening at text[start - 1] == "{"."""
    depth = 0
    part: list[str] = []
    parts: list[str] = []
    for char in text[start:]:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(part))
            part = []
        else:
            part.append(char)
    parts.append("".join(part))
    keys = []
    for item in parts:
        item = re.sub(r"^\s*\w+\s+with\s+", "", item)
        key = re.match(r"\s*(\w+)\s*:", item)
        if key:
            keys.append(key.group(1))
    return keys


def names(flux: str) -> Names:
    """The measurements, fields and columns a Flux query reads."""
    found = Names(pivots="pivot(" in flux)
    _compared(flux, found)
    for match in _ANY_COLUMN.finditer(flux):
        found.columns.add(match.group(1) or match.group(2))
    for match in _LISTS.finditer(flux):
        found.columns.update(_STRING.findall(match.group(1)))
    found.columns.update(_ONE.findall(flux))
    _made(flux, found)
    return found


def _compared(flux: str, found: Names) -> None:
    """The measurements and fields of `r._measurement == ".."`, `r._field =~ /../` and the like."""
    for match in _EQUALS.finditer(flux):
        column, value = match.group(1) or match.group(2), match.group(4)
        if column == "_measurement":
            found.measurements.add(value)
        elif column == "_field":
            found.fields.add(value)
    for match in _MATCHES.finditer(flux):
        column, negated, pattern = match.group(1) or match.group(2), match.group(3), match.group(4)
        exact = _literals(pattern)
        if column == "_measurement" and exact:
            found.measurements.update(exact)
        elif column == "_measurement":
            raise ValueError(f"measurement regex {pattern!r}: name the measurements: /^(a|b)$/")
        elif column == "_field" and exact:
            found.fields.update(exact)
        elif column == "_field" and negated == "=~":
            found.field_patterns.add(pattern)


def _made(flux: str, found: Names) -> None:
    """The columns the query makes: record keys, `rename`, `set(key:)`, `duplicate(as:)`."""
    found.made.update(_MADE.findall(flux))
    for match in _RENAME.finditer(flux):
        for old, new in re.findall(r'"?(\w+)"?\s*:\s*"(\w+)"', match.group(1)):
            found.columns.add(old)
            found.made.add(new)
    for match in _RECORD.finditer(flux):
        found.made.update(_record_keys(flux, match.end()))


def statements(flux: str) -> list[str]:
    """The top-level statements of a query: each starts at column 0 with a name (`import`,
    `cells = from(...)`, `union(...)`); indented lines and a closing `)` continue one."""
    found: list[list[str]] = []
    for line in flux.splitlines():
        if re.match(r"[A-Za-z_]", line) or not found:
            found.append([])
        found[-1].append(line)
    return ["\n".join(lines) for lines in found]


def problems(query: Query, written: Written) -> list[str]:
    """What a query reads that the gateway does not write, one line each. Each statement
    naming measurements is held against those; the other statements' columns (a `union` of
    the tables read) against the tag keys of all the query's measurements."""
    try:
        whole = names(query.text)
        parts = [names(s) for s in statements(query.text)]
    except ValueError as exc:
        return [f"{query.where}: {exc}"]
    out = [
        f"{query.where}: `and` and `or` without parentheses in {line!r}: write a and (b or c)"
        for line in mixed_logic(query.text)
    ]
    if not whole.measurements:
        return [*out, f"{query.where}: names no measurement (r._measurement == ...)"]
    for read in parts:
        if read.measurements:
            out += _statement_problems(query.where, read, whole.made, written)
    everywhere = {m: written.get(m, {}) for m in whole.measurements}
    keys = {k for fields in everywhere.values() for tags in fields.values() for k in tags}
    known = BUILTIN | keys | whole.made
    for read in parts:
        if not read.measurements:
            out += [f"{query.where}: no tag or column {c!r}" for c in sorted(read.columns - known)]
    return out


def _statement_problems(where: str, read: Names, made: set[str], written: Written) -> list[str]:
    out = [f"{where}: no measurement {m!r}" for m in sorted(read.measurements - written.keys())]
    fields = {f: keys for m in read.measurements & written.keys() for f, keys in written[m].items()}
    ms = "/".join(sorted(read.measurements))
    out += [f"{where}: {ms} has no field {f!r}" for f in sorted(read.fields - fields.keys())]
    chosen = read.fields & fields.keys()
    for pattern in sorted(read.field_patterns):
        matched = {f for f in fields if re.search(pattern, f)}
        if not matched:
            out.append(f"{where}: no field of {ms} matches /{pattern}/")
        chosen |= matched
    keys = set().union(*(fields[f] for f in chosen or fields))
    known = BUILTIN | keys | made | (set(fields) if read.pivots else set())
    out += [f"{where}: {ms} has no tag or column {c!r}" for c in sorted(read.columns - known)]
    return out


def plant_written(points: Iterable[Point]) -> Written:
    """What the lines of these points carry: each field with its quality and reason fields."""
    written: Written = {}
    for point in points:
        keys = frozenset(k for k, _ in point.tags)
        fields = written.setdefault(point.measurement, {})
        for name in (point.field, *(point.field + s for s in SUFFIXES)):
            fields[name] = fields.get(name, frozenset()) | keys
    return written


def lines_written(lines: Iterable[str]) -> Written:
    """What these line-protocol lines carry."""
    written: Written = {}
    for line in lines:
        measurement, tags, values, _ = parse_line(line)
        fields = written.setdefault(measurement, {})
        for name in values:
            fields[name] = fields.get(name, frozenset()) | frozenset(tags)
    return written
