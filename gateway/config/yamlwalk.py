"""Turn a composed YAML node tree into plain data, recording where keys and items came from.

Scalars are built with SafeLoader semantics (ints, floats, bools, null); every mapping key
and list item records its line (down to `depth` path parts, and all of those `under` a
path: deeper lines are found again on demand, see `locations.py`), and duplicate keys, keys
that are not plain values and aliases to a node that contains them become problems. Merge
keys (`<<: *defaults`) are supported; their values keep the lines of the anchored mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gateway.errors import Problem

#: a position in the data: mapping keys and list indexes, from the top of the file
DataPath = tuple[Any, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
#: the scalars whose value depends on their text only, so equal texts can share one value
_CACHED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null", "str")
)


class Walker:
    """One walk over one file's node tree; results go to the given containers."""

    def __init__(
        self,
        file: str,
        locations: dict[DataPath, tuple[str, int]],
        texts: dict[DataPath, str],
        problems: list[Problem],
        depth: int | None = None,
        keep_text: Callable[[DataPath], bool] | None = None,
        under: DataPath | None = None,
    ) -> None:
        self.file = file
        self.locations = locations
        self.texts = texts
        self.problems = problems
        self.depth = 1 << 30 if depth is None else depth
        self.under = under  # lines below `depth` kept too, for the paths below this one
        assert under is None or len(under) <= self.depth
        self.keep_text = keep_text
        self.constructor = SafeConstructor()
        self.cache: dict[tuple[str, str], Any] = {}  # (tag, text) -> value of plain scalars
        self.active: set[int] = set()  # nodes being walked: an alias to one of them is a loop
        self.reported: set[int] = set()  # duplicate keys already reported (aliases repeat them)

    def value(self, node: Node, path: DataPath) -> Any:
        if self.keeps(path):
            self.locations.setdefault(path, (self.file, node.start_mark.line + 1))
        if isinstance(node, ScalarNode):  # a leaf never contains itself
            return self._scalar(node, path)
        key = id(node)
        if key in self.active:
            self._problem(node, path, "an alias refers to a node that contains it")
            return None
        self.active.add(key)
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            return None  # every node is one of the three
        finally:
            self.active.discard(key)

    def keeps(self, path: DataPath) -> bool:
        """Whether the line of `path` is recorded."""
        under = self.under
        return len(path) <= self.depth or (under is not None and path[: len(under)] == under)

    def _scalar(self, node: ScalarNode, path: DataPath, keep_text: bool = True) -> Any:
        tag = node.tag
        plain = not node.style  # libyaml: '', PyYAML: None
        if tag == _STR_TAG:
            return node.value
        cached = tag in _CACHED_TAGS
        if cached:
            found = self.cache.get((tag, node.value), _MISSING)
            if found is not _MISSING:
                value = found
            else:
                value = self._construct(node, path)
                if value is _MISSING:
                    return None
                self.cache[tag, node.value] = value
        else:
            value = self._construct(node, path)
            if value is _MISSING:
                return None
        if keep_text and plain and value is not None and not isinstance(value, str):
            self._keep(path, node.value)
        return value

    def _keep(self, path: DataPath, text: str) -> None:
        """The text of a plain scalar YAML read as something else (when asked for)."""
        if self.keep_text is None or self.keep_text(path):
            self.texts[path] = text

    def _construct(self, node: Node, path: DataPath) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self._problem(node, path, exc.problem or "cannot read this value")
            return _MISSING
        finally:  # each value is built once: the constructor need not remember the nodes
            self.constructor.constructed_objects.clear()

    def _sequence(self, node: SequenceNode, path: DataPath) -> list[Any]:
        items = []
        deep = not self.keeps((*path, None))
        for index, item in enumerate(node.value):
            where = (*path, index)
            if not deep:
                self.locations[where] = (self.file, item.start_mark.line + 1)
            items.append(self.value(item, where))
        return items

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merges: list[Node] = []
        deep = not self.keeps((*path, None))
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
            where = (*path, key)
            if not deep:
                self.locations[where] = (self.file, line)
            result[key] = self.value(value_node, where)
        for merge in merges:
            self._merge(merge, path, result)
        return result

    def _key(self, node: Node, path: DataPath) -> Any:
        if not isinstance(node, ScalarNode):
            self._problem(node, path, "a key must be a plain value, not a list or mapping")
            return _BAD_KEY
        if node.tag == _STR_TAG:
            return node.value
        key = self._scalar(node, path, keep_text=False)
        if not node.style and not isinstance(key, str):
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
            own, self.locations = self.locations, {}
            own_texts, self.texts = self.texts, {}
            try:
                merged = self.value(source, path)
            finally:
                found, self.locations = self.locations, own
                texts, self.texts = self.texts, own_texts
            for key, value in merged.items():
                if key not in result:
                    result[key] = value
                    _adopt(found, self.locations, (*path, key))
                    _adopt(texts, self.texts, (*path, key))

    def _problem(self, node: Node, path: DataPath, message: str) -> None:
        self.problems.append(
            Problem(self.file, node.start_mark.line + 1, format_path(path), message)
        )


_BAD_KEY = object()
_MISSING = object()


def _adopt(found: dict[DataPath, Any], into: dict[DataPath, Any], prefix: DataPath) -> None:
    """Copy the entries at and below `prefix` from those of a merged mapping."""
    size = len(prefix)
    for where, entry in found.items():
        if where[:size] == prefix:
            into[where] = entry


def format_path(path: DataPath) -> str:
    """`("devices", 3, "tags", 7, "address")` -> `devices[3].tags[7].address`."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
