"""Read one YAML file into plain data plus the file and line of every key and list item.

PyYAML's `safe_load` forgets where values came from and silently keeps the last of two equal
keys. Here the data is built by hand, from libyaml's events (`yamlevents`) or, for files with
anchors and merge keys, from its composed nodes (`yamlwalk`): scalars are built with SafeLoader
semantics (ints, floats, bools, null), every mapping key and list item has its line
(`locations`), and duplicate keys become problems. Merge keys (`<<: *defaults`) are supported;
their values keep the lines of the anchored mapping. A file libyaml refuses is parsed again by
PyYAML's own parser, whose messages (and lines) are the ones reported.

The text of every unquoted scalar that YAML 1.1 turned into something else than a string
(`010` -> 8, `no` -> False, `1.50` -> 1.5) is kept too, so values that are text by nature
(InfluxDB tag values) can be taken as written.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import yaml
from yaml.nodes import Node
from yaml.reader import Reader, ReaderError

from gateway.config.locations import SHALLOW, Locations, Where
from gateway.config.yamlevents import EventBuilder, Unsupported
from gateway.config.yamlwalk import DataPath, Walker, format_path
from gateway.errors import Problem

__all__ = ["DataPath", "Locations", "Texts", "YamlSource", "format_path", "load_yaml"]

#: path -> the text of an unquoted scalar that YAML read as a number, boolean or date
Texts = dict[DataPath, str]
#: which paths' texts to keep (default: all)
KeepText = Callable[[DataPath], bool]

#: what libyaml and PyYAML might count differently: PyYAML's own line breaks and refusals
_PYYAML_ONLY = re.compile("[\x85\u2028\u2029]|" + Reader.NON_PRINTABLE.pattern)
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class YamlSource:
    """One parsed file: its data (None when unusable), locations and problems."""

    file: str
    data: Any = None
    locations: Locations = field(default_factory=Locations)
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


def load_yaml(path: str, shown: str | None = None, keep_text: KeepText | None = None) -> YamlSource:
    """Parse the file at `path`; problems name it `shown` (default: `path`). Only the texts
    of the paths `keep_text` accepts are kept."""
    source = YamlSource(shown if shown is not None else path)
    text = _read(path, source)
    if text is not None:
        file = source.file  # not `source`: the data would live as long as the locations
        parse_text(text, source, keep_text, lambda: _read(path, YamlSource(file)))
    return source


def _read(path: str, source: YamlSource) -> str | None:
    try:
        with open(path, encoding="utf-8-sig") as stream:
            return stream.read()
    except OSError as exc:
        source.problems.append(Problem(source.file, None, "", f"cannot read: {exc.strerror}"))
    except UnicodeDecodeError as exc:
        line = _byte_line(path, exc.start)
        source.problems.append(Problem(source.file, line, "", "not UTF-8 text"))
    return None


def parse_text(
    text: str,
    source: YamlSource,
    keep_text: KeepText | None = None,
    reread: Callable[[], str | None] | None = None,
) -> None:
    """Fill `source` with the data, shallow locations and problems of `text`; the locations
    below are found again from `reread()` (default: `text`, kept) when first asked for."""
    if reread is None:
        reread = lambda: text  # noqa: E731
    shallow: dict[DataPath, Where] = {}
    try:
        source.data = _build(text, source, shallow, keep_text)
    except _Refused:
        source.data = None
    file = source.file  # the walk again needs the name only, never this first walk's data
    source.locations = Locations(shallow, lambda under: _locations_again(file, reread, under))


class _Refused(Exception):
    """The text is no usable YAML (the problem is in the source already)."""


def _build(
    text: str,
    source: YamlSource,
    shallow: dict[DataPath, Where],
    keep: KeepText | None,
    under: DataPath | None = None,
    full: bool = False,
) -> Any:
    depth = None if full else SHALLOW
    pyyaml_only = _PYYAML_ONLY.search(text) is not None
    if not pyyaml_only:
        builder = EventBuilder(source.file, shallow, source.texts, [], depth, keep, under)
        try:
            data = builder.build(text)
        except (Unsupported, yaml.YAMLError, RecursionError):
            shallow.clear()
            source.texts.clear()
        else:
            source.problems += builder.problems
            return data
    node = _compose(text, source, pyyaml_only)
    walker = Walker(source.file, shallow, source.texts, source.problems, depth, keep, under)
    return walker.value(node, ())


def _locations_again(
    file: str, reread: Callable[[], str | None], under: DataPath | None
) -> dict[DataPath, Where]:
    """A second walk of the file recording the lines below `under` (all when None)."""
    text = reread()
    found: dict[DataPath, Where] = {}
    if text is not None:
        with contextlib.suppress(_Refused):  # the file changed since: no lines then
            _build(text, YamlSource(file), found, lambda _: False, under, full=under is None)
    return found


def _compose(text: str, source: YamlSource, pyyaml_only: bool) -> Node:
    """The node tree of `text`, by libyaml; when it refuses, PyYAML's parser says why."""
    try:
        node = None if pyyaml_only else yaml.compose(text, Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, RecursionError):
        pyyaml_only = True
    if pyyaml_only:
        node = _compose_pyyaml(text, source)
    if node is None:
        source.problems.append(Problem(source.file, None, "", "the file is empty"))
        raise _Refused
    return node


def _compose_pyyaml(text: str, source: YamlSource) -> Node | None:
    try:
        node: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
        return node
    except yaml.MarkedYAMLError as exc:
        source.problems.append(_syntax_problem(source.file, exc))
    except ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        message = f"invalid YAML: character #x{exc.character:04x}: {exc.reason}"
        source.problems.append(Problem(source.file, line, "", message))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        source.problems.append(Problem(source.file, None, "", f"invalid YAML: {first}"))
    except RecursionError:
        source.problems.append(Problem(source.file, None, "", "invalid YAML: nested too deeply"))
    raise _Refused


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


def relative_to(yaml_file: str, path: str) -> str:
    """A path written in `yaml_file`, made usable from the working directory: relative paths
    are relative to the folder of the tag-map file, `~` is the home folder, absolute paths are
    kept. The one rule for every path in a tag map (tags_csv, buffer and sink folders,
    token_file)."""
    return os.path.join(os.path.dirname(yaml_file), os.path.expanduser(path))
