"""Load tag maps: YAML files (plus their CSV tag lists) -> validated devices and sinks.

Every problem in every file is collected and raised at once as a `ConfigError`, each located
as `file:line path: message`. Per file: parse (`yamlsource`), substitute `${VAR}`
(`envsubst`), merge `tags_csv` rows into `tags` (`csvtags`), validate each device on its own
(so one broken device never hides another's problems), then run the cross-field checks
(`checks`). Across files: device names are unique, each of `sinks:`, `buffer:` and
`health:` is in at most one file, and each protocol checks its devices together
(`Plugin.check_across`, `warn_across`: e.g. the devices of one Modbus serial line).

Warnings (`hints`: valid maps that probably do not do what was meant) are collected the same
way, into `LoadedConfig.warnings` (and `ConfigError.warnings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.collectors.registry import Plugin, known, plugin, protocol_of
from gateway.config.checks import unencodable
from gateway.config.compact import Sharing, share_common_parts
from gateway.config.csvrows import CsvRowIndex
from gateway.config.csvtags import Columns, CsvTable, column_of, merge_csv_tags
from gateway.config.envsubst import substitute
from gateway.config.hints import precision_warnings
from gateway.config.linechecks import cross_device_collisions
from gateway.config.messages import message_of
from gateway.config.models import (
    BufferConfig,
    DeviceFields,
    HealthConfig,
    RunConfig,
    SinksConfig,
    TagMapFile,
)
from gateway.config.written import (
    device_paths_relative_to,
    is_label_path,
    labels_as_written,
    paths_relative_to,
)
from gateway.config.yamlsource import (
    DataPath,
    Locations,
    find_yaml_files,
    format_path,
    load_yaml,
)
from gateway.errors import ConfigError, Problem
from gateway.sinks.lineprotocol import Precision


@dataclass(frozen=True)
class LoadedConfig:
    """The validated tag maps of every file."""

    devices: tuple[
        DeviceFields, ...
    ]  # each of its protocol's model; CSV tags already merged into device.tags
    sinks: SinksConfig | None  # from the one file that has a `sinks:` section, else None
    origin: dict[str, str]  # device name -> file it came from
    buffer: BufferConfig | None = None  # likewise for `buffer:`
    health: HealthConfig | None = None  # and `health:`
    sections_at: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # file, line
    warnings: tuple[Problem, ...] = ()  # valid, but probably not what was meant
    run: RunConfig | None = None  # from the one file with `run:` (workers)


def load_tagmaps(paths: Sequence[str | Path], env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load and check tag maps from files and folders (every *.yaml / *.yml below, sorted).

    Raises ConfigError listing every problem, sorted by file then line.
    """
    if isinstance(paths, str | PathLike):
        paths = [paths]
    loader = _Loader(os.environ if env is None else env)
    for file in find_yaml_files(paths, loader.problems):
        loader.load_file(file)
    loader.finish()
    warnings = _sorted(loader.warnings)
    if loader.problems:
        raise ConfigError(_sorted(loader.problems), warnings)
    sections = loader.sections
    return LoadedConfig(
        tuple(loader.devices),
        sections.get("sinks"),
        loader.origin,
        sections.get("buffer"),
        sections.get("health"),
        dict(loader.sections_at),
        tuple(warnings),
        run=sections.get("run"),
    )


def _sorted(problems: list[Problem]) -> list[Problem]:
    """Each problem once, sorted by file then line."""
    return sorted(dict.fromkeys(problems), key=lambda p: (p.file, p.line or 0))


@dataclass
class _File:
    """Where the values of one tag-map file came from, for locating its problems."""

    name: str
    locations: Locations
    problems: list[Problem]
    csv_rows: CsvRowIndex = field(default_factory=CsvRowIndex)
    unset: set[DataPath] = field(default_factory=set)  # values with an unset ${VAR}
    warnings: list[Problem] = field(default_factory=list)

    def where(self, path: DataPath) -> tuple[str, int | None]:
        row = self.csv_rows.row_of(path)
        if row is not None:
            return row.file, row.line
        for size in range(len(path), -1, -1):
            found = self.locations.get(path[:size])
            if found is not None:
                return found
        return self.name, None

    def env_problem(self, path: DataPath, message: str) -> None:
        """A substitution problem; later problems of the same value are consequences."""
        self.problem(path, message)
        self.unset.add(path)

    def problem(self, path: DataPath, message: str, column: bool = True) -> None:
        if any(path[:size] in self.unset for size in range(len(path) + 1)):
            return
        file, line = self.where(path)
        if column:
            message += self._column(path)
        self.problems.append(Problem(file, line, format_path(path), message))

    def warning(self, path: DataPath, message: str) -> None:
        file, line = self.where(path)
        message += self._column(path)
        self.warnings.append(Problem(file, line, format_path(path), message, "warning"))

    def _column(self, path: DataPath) -> str:
        row = self.csv_rows.row_of(path) if len(path) > 4 else None  # below a tag's own path
        return column_of(path[4:], row.given, row.columns) if row is not None else ""


SECTIONS = ("sinks", "buffer", "health", "run")  # settings that may appear in one file only


class _Loader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.devices: list[DeviceFields] = []
        self.checked: list[tuple[_File, DataPath, DeviceFields]] = []  # for `finish`
        self.origin: dict[str, str] = {}
        self.names: dict[str, tuple[str, int | None]] = {}
        self.sections: dict[str, Any] = {}
        self.sections_at: dict[str, tuple[str, int | None]] = {}
        self.section_files: dict[str, _File] = {}
        # what the tags of every device have in common, held once
        self.sharing = Sharing(plugin(name).device_model for name in known())
        self.csv_tables: dict[tuple[str, int], CsvTable] = {}  # each CSV file read once

    def load_file(self, name: str) -> None:
        source = load_yaml(name, keep_text=is_label_path)
        self.problems += source.problems
        if source.data is None and not source.locations:
            return
        ctx = _File(name, source.locations, self.problems, warnings=self.warnings)
        if not isinstance(source.data, dict):
            ctx.problem(
                (),
                "the top level must be a mapping with `devices:` (and `sinks:`, "
                "`buffer:`, `health:`)",
            )
            return
        labels_as_written(source.data, source.texts)
        data = substitute(source.data, self.env, ctx.env_problem)
        self._top_level(ctx, data)
        devices = data.get("devices")
        if isinstance(devices, list):
            for index, raw in enumerate(devices):
                self._device(ctx, ("devices", index), raw)
                devices[index] = None  # validated: its raw data is no longer needed

    def _top_level(self, ctx: _File, data: dict[Any, Any]) -> None:
        """Validate everything but the devices: unknown keys, `devices` a list, `sinks`."""
        rest = dict(data)
        if isinstance(rest.get("devices"), list):
            rest["devices"] = []
        try:
            parsed = TagMapFile.model_validate(rest)
        except ValidationError as exc:
            report_validation(ctx, (), rest, TagMapFile, exc)
            parsed = None
        for section in SECTIONS:
            if data.get(section) is None:
                continue
            if section in self.sections_at:
                first = _at(*self.sections_at[section])
                ctx.problem(
                    (section,), f"{section} is already defined in {first}; keep it in one file"
                )
                continue
            self.sections_at[section] = ctx.where((section,))
            self.section_files[section] = ctx
            value = getattr(parsed, section) if parsed is not None else None
            self.sections[section] = paths_relative_to(ctx.name, value)

    def _device(self, ctx: _File, path: DataPath, raw: Any) -> None:
        """Validate one device with the model of its `protocol` (the union's discriminator)."""
        name = protocol_of(raw)
        if name not in known():
            where = (*path, "protocol") if isinstance(raw, dict) and "protocol" in raw else path
            message = f"unknown protocol {name!r}; known protocols: {', '.join(known())}"
            ctx.problem(where, message, column=False)
            return
        proto = plugin(name)
        model = proto.device_model
        if isinstance(raw, dict):
            raw = self._merge_csv(ctx, path, raw, proto.columns)
            self._unique_name(ctx, path, raw.get("name"))
        try:
            device = model.model_validate(raw)
        except ValidationError as exc:
            report_validation(ctx, path, raw, model, exc)
            if isinstance(raw, dict):
                _check_valid_part(ctx, path, raw, exc, proto)
            return
        device = device_paths_relative_to(ctx.name, device)  # checks may look at the files
        share_common_parts(device, self.sharing)
        for rel, message in [*proto.check(device, None), *unencodable(proto.value_types(device))]:
            ctx.problem((*path, *rel), message)
        for rel, message in proto.warn(device, None):
            ctx.warning((*path, *rel), message)
        self.checked.append((ctx, path, device))
        self.devices.append(device)
        self.origin.setdefault(device.name, ctx.name)

    def finish(self) -> None:
        """The checks that need every file: scan rates against the sinks' precision, fields
        that collide across devices."""
        sinks = self.sections.get("sinks")
        precision = Precision(sinks.precision if isinstance(sinks, SinksConfig) else "ms")
        given_at = "the default"
        if isinstance(sinks, SinksConfig) and "precision" in sinks.model_fields_set:
            given_at = "in " + _at(*self.section_files["sinks"].where(("sinks", "precision")))
        for ctx, path, device in self.checked:
            for rel, message in precision_warnings(device, precision, given_at):
                ctx.warning((*path, *rel), message)
        for d, found in cross_device_collisions([device for _, _, device in self.checked]):
            ctx, path, _ = self.checked[d]
            for rel, message in found:
                ctx.problem((*path, *rel), message)
        self._across_devices()

    def _across_devices(self) -> None:
        """Each protocol's checks across its devices (e.g. the devices of one serial line)."""
        by_protocol: dict[str, list[int]] = {}
        for index, (_, _, device) in enumerate(self.checked):
            by_protocol.setdefault(device.protocol, []).append(index)
        for name, indexes in by_protocol.items():
            proto = plugin(name)
            members = [self.checked[i][2] for i in indexes]
            for d, found in proto.check_across(members):
                ctx, path, _ = self.checked[indexes[d]]
                for rel, message in found:
                    ctx.problem((*path, *rel), message)
            for d, found in proto.warn_across(members):
                ctx, path, _ = self.checked[indexes[d]]
                for rel, message in found:
                    ctx.warning((*path, *rel), message)

    def _unique_name(self, ctx: _File, path: DataPath, name: Any) -> None:
        if not isinstance(name, str):
            return
        first = self.names.get(name)
        if first is None:
            self.names[name] = ctx.where((*path, "name"))
        else:
            ctx.problem((*path, "name"), f"duplicate device name {name!r} (first in {_at(*first)})")

    def _merge_csv(
        self, ctx: _File, path: DataPath, raw: dict[Any, Any], columns: Columns
    ) -> dict[Any, Any]:
        """Append the rows of the device's `tags_csv` files to its `tags`, located in the CSV."""
        merge = merge_csv_tags(raw, path, ctx.name, columns, self.csv_tables)
        for entry_path, message in merge.unreadable:
            ctx.problem(entry_path, message)
        for file, line, entry_path, message in merge.problems:
            self.problems.append(Problem(file, line, format_path(entry_path), message))
        for tag_path, file, row in merge.rows:
            ctx.csv_rows.add(tag_path, file, row.line, columns, row.columns)
            tags = merge.device["tags"]  # the device's own copy of the row's tag
            tags[tag_path[-1]] = substitute(tags[tag_path[-1]], self.env, ctx.env_problem, tag_path)
            for rel, message in row.problems:
                ctx.problem((*tag_path, *rel), message, column=False)
        return merge.device


def _check_valid_part(
    ctx: _File, path: DataPath, raw: dict[Any, Any], exc: ValidationError, proto: Plugin[Any, Any]
) -> None:
    """Run the cross-field checks on what validated of a device that did not.

    Invalid device fields fall back to their defaults, unknown keys of a tag are dropped and
    other invalid tags are left out, so the problems that validation cannot see are reported
    in the same run as those it does.
    """
    errors = [(e["loc"], e["type"]) for e in exc.errors(include_url=False) if e["loc"]]
    given = raw.get("tags")
    tags = [dict(t) if isinstance(t, dict) else t for t in given] if isinstance(given, list) else []
    bad_tags: set[Any] = set()
    for loc, kind in errors:
        index = loc[1] if loc[0] == "tags" and len(loc) > 1 else None
        if isinstance(index, int) and len(loc) == 3 and kind == "extra_forbidden":
            tags[index].pop(loc[2], None)
        elif index is not None:
            bad_tags.add(index)
    keep = [i for i in range(len(tags)) if i not in bad_tags]
    part = {k: v for k, v in raw.items() if k not in {loc[0] for loc, _ in errors}}
    stand_ins = {k: v for k, v in proto.stand_ins.items() if k not in part}
    part.update(name="_", tags=[tags[i] for i in keep], **stand_ins)
    try:
        device = proto.device_model.model_validate(part)
    except ValidationError:
        return
    for rel, message in proto.check(device, keep):
        if not ("scan_groups" in raw and "scan_groups" not in part and rel[-1] == "scan"):
            ctx.problem((*path, *rel), message)
    for rel, message in proto.warn(device, keep):
        ctx.warning((*path, *rel), message)


def _at(file: str, line: int | None) -> str:
    return f"{file}:{line}" if line else file


# --- pydantic errors -> problems ---------------------------------------------------------


def report_validation(
    ctx: _File, base: DataPath, raw: Any, model: type[BaseModel], exc: ValidationError
) -> None:
    """Turn each pydantic error into a problem at the deepest path that exists in `raw`."""
    grouped: dict[DataPath, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = _data_path(raw, error["loc"], error["type"])
        message = message_of(error, model, path)
        if message not in grouped.setdefault(path, []):
            grouped[path].append(message)
    for path, messages in grouped.items():
        text = " or ".join(m if i == 0 else m[:1].lower() + m[1:] for i, m in enumerate(messages))
        ctx.problem((*base, *path), text)


def _data_path(raw: Any, loc: tuple[Any, ...], kind: str) -> DataPath:
    """Follow `loc` along the input; union branch names ('str', 'float') are never in it."""
    path: list[Any] = []
    current = raw
    for index, part in enumerate(loc):
        if not _has(current, part):
            if kind == "missing" and index == len(loc) - 1 and isinstance(current, dict):
                path.append(part)
            break
        current = current[part]
        path.append(part)
    return tuple(path)


def _has(data: Any, part: Any) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
