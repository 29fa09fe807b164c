"""Read one YAML file into plain data plus the file and line of every key and list item.

PyYAML's `safe_load` forgets where values came from and silently keeps the last of two equal
keys. Here the file is composed into nodes (`yaml.compose`, SafeLoader) and walked by hand:
scalars are built with SafeLoader semantics (ints, floats, bools, null), every mapping key and
list item records its line, and duplicate keys become problems. Merge keys (`<<: *defaults`)
are supported; their values keep the lines of the anchored mapping.

The text of every unquoted scalar that YAML 1.1 turned into something else than a string
(`010` -> 8, `no` -> False, `1.50` -> 1.5) is kept too, so values that are text by nature
(InfluxDB tag values) can be taken as written.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from gateway.errors import Problem

#: a position in the data: mapping keys and list indexes, from the top of the file
DataPath = tuple[Any, ...]
#: path -> (file, 1-based line)
Locations = dict[DataPath, tuple[str, int]]
#: path -> the text of an unquoted scalar that YAML read as a number, boolean or date
Texts = dict[DataPath, str]

_MERGE_TAG = "tag:yaml.org,2002:merge"
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class YamlSource:
    """One parsed file: its data (None when unusable), locations and problems."""

    file: str
    data: Any = None
    locations: Locations = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    texts: Texts = field(default_factory=dict)


def find_yaml_files(paths: Sequence[str | PathLike[str]], problems: list[Problem]) -> list[str]:
    """The files to load, named as the user wrote them, each once.

    A folder stands for every *.yaml / *.yml below it (recursive, sorted).
    """
    files: dict[str, str] = {}
    for given in paths:
        folder = pathlib.Path(given)
        if folder.is_dir():
            found = _yaml_files(folder)
            if not found:
                problems.append(Problem(str(given), None, "", "no *.yaml or *.yml files here"))
        elif folder.exists():
            found = [str(given)]
        else:
            problems.append(Problem(str(given), None, "", "no such file or folder"))
            continue
        for file in found:
            files.setdefault(os.path.realpath(file), file)
    return list(files.values())


def _yaml_files(folder: pathlib.Path) -> list[str]:
    try:
        found = [p for p in folder.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()]
    except OSError:
        return []
    return [str(p) for p in sorted(found)]


def load_yaml(path: str, shown: str | None = None) -> YamlSource:
    """Parse the file at `path`; problems name it `shown` (default: `path`)."""
    source = YamlSource(shown if shown is not None else path)
    try:
        with open(path, encoding="utf-8-sig") as stream:
            text = stream.read()
    except OSError as exc:
        source.problems.append(Problem(source.file, None, "", f"cannot read: {exc.strerror}"))
        return source
    except UnicodeDecodeError as exc:
        line = _byte_line(path, exc.start)
        source.problems.append(Problem(source.file, line, "", "not UTF-8 text"))
        return source
    parse_text(text, source)
    return source


def parse_text(text: str, source: YamlSource) -> None:
    """Compose `text` and fill `source` with its data, locations and problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        source.problems.append(_syntax_problem(source.file, exc))
        return
    except ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        message = f"invalid YAML: character #x{exc.character:04x}: {exc.reason}"
        source.problems.append(Problem(source.file, line, "", message))
        return
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        source.problems.append(Problem(source.file, None, "", f"invalid YAML: {first}"))
        return
    except RecursionError:
        source.problems.append(Problem(source.file, None, "", "invalid YAML: nested too deeply"))
        return
    if node is None:
        source.problems.append(Problem(source.file, None, "", "the file is empty"))
        return
    walker = _Walker(source)
    source.data = walker.value(node, ())


def _byte_line(path: str, offset: int) -> int | None:
    """The 1-based line of byte `offset` of the file, for decoding errors."""
    try:
        with open(path, "rb") as stream:
            return stream.read(offset).count(b"\n") + 1
    except OSError:
        return None


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    parts = [part for part in (exc.context, exc.problem) if part]
    message = "invalid YAML: " + ", ".join(parts) if parts else "invalid YAML"
    return Problem(file, mark.line + 1 if mark else None, "", message)


class _Walker:
    """Turns a node tree into plain data, recording locations and problems on the way."""

    def __init__(self, source: YamlSource) -> None:
        self.source = source
        self.constructor = SafeConstructor()
        self.active: set[int] = set()  # nodes being walked: an alias to one of them is a loop
        self.reported: set[int] = set()  # duplicate keys already reported (aliases repeat them)

    def value(self, node: Node, path: DataPath) -> Any:
        self.source.locations.setdefault(path, self._where(node))
        if id(node) in self.active:
            self._problem(node, path, "an alias refers to a node that contains it")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: Node, path: DataPath, keep_text: bool = True) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self._problem(node, path, exc.problem or "cannot read this value")
            return None
        plain = isinstance(node, ScalarNode) and node.style is None
        if keep_text and plain and value is not None and not isinstance(value, str):
            self.source.texts[path] = node.value
        return value

    def _sequence(self, node: SequenceNode, path: DataPath) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self.source.locations[(*path, index)] = self._where(item)
            items.append(self.value(item, (*path, index)))
        return items

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is _BAD_KEY:
                continue
            line = key_node.start_mark.line + 1
            if key in first_line and id(key_node) not in self.reported:
                self.reported.add(id(key_node))
                message = f"duplicate key {key!r} (first at line {first_line[key]})"
                self._problem(key_node, (*path, key), message)
            first_line.setdefault(key, line)
            self.source.locations[(*path, key)] = (self.source.file, line)
            result[key] = self.value(value_node, (*path, key))
        for merge in merges:
            self._merge(merge, path, result)
        return result

    def _key(self, node: Node, path: DataPath) -> Any:
        if not isinstance(node, ScalarNode):
            self._problem(node, path, "a key must be a plain value, not a list or mapping")
            return _BAD_KEY
        key = self._scalar(node, path, keep_text=False)
        if node.style is None and not isinstance(key, str):
            # every key of a tag map is a name: `on:` is "on", not YAML 1.1's true
            return node.value
        try:
            hash(key)
        except TypeError:
            self._problem(node, path, f"{key!r} cannot be used as a key")
            return _BAD_KEY
        return key

    def _merge(self, node: Node, path: DataPath, result: dict[Any, Any]) -> None:
        """`<<: *anchor` or `<<: [*a, *b]`: copy keys not given explicitly (first wins)."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self._problem(source, path, "`<<` needs a mapping or a list of mappings")
                continue
            own, self.source.locations = self.source.locations, {}
            own_texts, self.source.texts = self.source.texts, {}
            try:
                merged = self.value(source, path)
            finally:
                found, self.source.locations = self.source.locations, own
                texts, self.source.texts = self.source.texts, own_texts
            for key, value in merged.items():
                if key not in result:
                    result[key] = value
                    _adopt(found, self.source.locations, (*path, key))
                    _adopt(texts, self.source.texts, (*path, key))

    def _where(self, node: Node) -> tuple[str, int]:
        return (self.source.file, node.start_mark.line + 1)

    def _problem(self, node: Node, path: DataPath, message: str) -> None:
        self.source.problems.append(
            Problem(self.source.file, node.start_mark.line + 1, format_path(path), message)
        )


_BAD_KEY = object()


def _adopt(found: dict[DataPath, Any], into: dict[DataPath, Any], prefix: DataPath) -> None:
    """Copy the entries at and below `prefix` from those of a merged mapping."""
    size = len(prefix)
    for where, entry in found.items():
        if where[:size] == prefix:
            into[where] = entry


def relative_to(yaml_file: str, path: str) -> str:
    """A path written in `yaml_file`, made usable from the working directory: relative paths
    are relative to the folder of the tag-map file, `~` is the home folder, absolute paths are
    kept. The one rule for every path in a tag map (tags_csv, buffer and sink folders,
    token_file)."""
    return os.path.join(os.path.dirname(yaml_file), os.path.expanduser(path))


def format_path(path: DataPath) -> str:
    """`("devices", 3, "tags", 7, "address")` -> `devices[3].tags[7].address`."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
