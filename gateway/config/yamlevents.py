"""Build a file's data straight from libyaml's events, without a node tree.

Composing 100,000 tags into nodes takes hundreds of MB (two marks per node) and most of the
time; the data itself is a fraction of that. This builder gives the same data, lines and
problems as `Walker` over composed nodes for the files it handles: one document without
anchors, aliases, merge keys, explicit tags on collections or keys that are not scalars.
For anything else it gives up (`Unsupported`) and the caller composes the file into nodes.
Plain scalars are resolved once per distinct text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from gateway.config.yamlwalk import _BAD_KEY, _MERGE_TAG, _STR_TAG, DataPath, Walker, format_path
from gateway.errors import Problem


class Unsupported(Exception):
    """The file uses something only the node walker handles."""


class EventBuilder(Walker):
    """`Walker`'s results from an event stream (`yaml.CSafeLoader`)."""

    def build(self, text: str) -> Any:
        parser = yaml.CSafeLoader(text)
        try:
            self.next: Callable[[], Any] = parser.get_event
            self.resolve = parser.resolve
            self.tags: dict[str, str] = {}  # text of a plain scalar -> its resolved tag
            self.strings: dict[str, str] = {}  # one object per distinct text: keys repeat
            if type(self.next()) is not StreamStartEvent:
                raise Unsupported
            if type(self.next()) is not DocumentStartEvent:
                raise Unsupported  # an empty file
            data = self.node(self.next(), ())
            if type(self.next()) is not DocumentEndEvent:
                raise Unsupported
            if type(self.next()) is not StreamEndEvent:
                raise Unsupported  # several documents: the composer says so
            return data
        finally:
            parser.dispose()

    def node(self, event: Any, path: DataPath) -> Any:
        if self.keeps(path):
            self.locations.setdefault(path, (self.file, event.start_mark.line + 1))
        kind = type(event)
        if kind not in _NODES or event.anchor is not None:
            raise Unsupported  # an alias, or an anchor others may refer to
        if kind is ScalarEvent:
            return self.scalar_event(event, path, True)
        if event.tag is not None and event.tag != "!":
            raise Unsupported
        if kind is MappingStartEvent:
            return self.mapping_events(path)
        return self.sequence_events(path)

    def sequence_events(self, path: DataPath) -> list[Any]:
        items: list[Any] = []
        deep = not self.keeps((*path, None))
        while True:
            event = self.next()
            if type(event) is SequenceEndEvent:
                return items
            where = (*path, len(items))
            if not deep:
                self.locations[where] = (self.file, event.start_mark.line + 1)
            items.append(self.node(event, where))

    def mapping_events(self, path: DataPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        deep = not self.keeps((*path, None))
        while True:
            event = self.next()
            kind = type(event)
            if kind is MappingEndEvent:
                return result
            if kind is not ScalarEvent or event.anchor is not None:
                raise Unsupported
            key = self.key_event(event, path)
            line = event.start_mark.line + 1
            if key in first_line:
                message = f"duplicate key {key!r} (first at line {first_line[key]})"
                self.problems.append(Problem(self.file, line, format_path((*path, key)), message))
            else:
                first_line[key] = line
            where = (*path, key)
            if not deep:
                self.locations[where] = (self.file, line)
            result[key] = self.node(self.next(), where)

    def tag_of(self, event: Any) -> str:
        tag = event.tag
        if tag is not None and tag != "!":
            return str(tag)
        implicit = event.implicit
        if not implicit[0]:
            return str(self.resolve(ScalarNode, event.value, implicit))
        found = self.tags.get(event.value)
        if found is None:
            found = self.tags[event.value] = self.resolve(ScalarNode, event.value, implicit)
        return found

    def key_event(self, event: Any, path: DataPath) -> Any:
        tag = self.tag_of(event)
        if tag == _STR_TAG:
            return self.strings.setdefault(event.value, event.value)
        if tag == _MERGE_TAG:
            raise Unsupported
        key = self._key(self.as_node(event, tag), path)
        if key is _BAD_KEY:
            raise Unsupported  # the walker skips its value
        return key

    def scalar_event(self, event: Any, path: DataPath, keep_text: bool) -> Any:
        tag = self.tag_of(event)
        if tag == _STR_TAG:
            return self.strings.setdefault(event.value, event.value)
        found = self.cache.get((tag, event.value), _MISSING)
        if found is _MISSING:
            return self._scalar(self.as_node(event, tag), path, keep_text)
        if keep_text and not event.style and found is not None and not isinstance(found, str):
            self._keep(path, event.value)
        return found

    @staticmethod
    def as_node(event: Any, tag: str) -> ScalarNode:
        return ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)


_NODES = (ScalarEvent, MappingStartEvent, SequenceStartEvent)
_MISSING = object()
