"""Checks of what a device writes to InfluxDB: names line protocol can carry, fields that
do not collide.

InfluxDB's parser undoes only a backslash before a comma or space (measurement), before a
comma, equals sign or space (tag keys and values) and also before a double quote (field
keys); any other backslash is kept literally, which is how the encoder writes it. What it
cannot carry is refused here, before a line is ever dead-lettered:

* a line break anywhere (a record is one line);
* a trailing backslash (it escapes the separator after it: InfluxDB refuses the line);
* in a measurement, a backslash before a comma or space (InfluxDB drops the backslash);
* in a field name, a backslash before a comma, equals sign, space or double quote (refused
  or dropped);
* a measurement starting with ``#`` (the line is read as a comment and dropped);
* an empty tag key.

Each tag writes ``<field>``, ``<field>_quality`` and ``<field>_reason``; a field named like
another tag's companion in the same measurement would overwrite it on the same line, or mix
types in one field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.config.models import DeviceFields, TagFields

Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]

COMPANIONS = (("_quality", "quality"), ("_reason", "reason"))


def check_names(device: DeviceFields, pos: Sequence[int]) -> Found:
    """Names of `device` and its tags that line protocol cannot carry."""
    found: Found = []
    found += _name(device.measurement, "measurement", ("measurement",))
    found += _labels(device.metadata, ("metadata",))
    for index, tag in enumerate(device.tags):
        at: Path = ("tags", pos[index])
        if tag.measurement is not None:
            found += _name(tag.measurement, "measurement", (*at, "measurement"))
        if tag.field is not None:
            found += _name(tag.field, "field name", (*at, "field"))
        found += _labels(tag.tags, (*at, "tags"))
    return found


def check_field_collisions(device: DeviceFields, pos: Sequence[int]) -> Found:
    """Fields equal to the `_quality` / `_reason` field of another tag in the same
    measurement (equal fields of the same series are `checks._destinations`)."""
    owners: dict[tuple[str, str], tuple[int, str]] = {}  # (measurement, field) -> tag, kind
    for index, tag in enumerate(device.tags):
        for suffix, kind in COMPANIONS:
            owners.setdefault((_measurement(tag, device), _field(tag) + suffix), (index, kind))
    found: Found = []
    for index, tag in enumerate(device.tags):
        measurement, field = _measurement(tag, device), _field(tag)
        owner = owners.get((measurement, field))
        if owner is None or owner[0] == index:
            continue
        other = device.tags[owner[0]]
        message = (
            f"field {field!r} is also the {owner[1]} field of tag {other.name!r} "
            f"(tags[{pos[owner[0]]}]) in measurement {measurement!r}"
        )
        found.append((("tags", pos[index], "field" if tag.field else "name"), message))
    return found


def cross_device_collisions(devices: Sequence[DeviceFields]) -> list[tuple[int, Found]]:
    """Like `check_field_collisions`, across devices: `temp_quality` of one device and the
    quality field of `temp` of another land in one measurement, where a field keeps one type
    (InfluxDB refuses the second one's lines). Per device (its index in `devices`), what to
    report; collisions within one device are `check_field_collisions`'."""
    owners: dict[tuple[str, str], tuple[int, str, str]] = {}  # -> device, tag, kind
    for d, device in enumerate(devices):
        for tag in device.tags:
            for suffix, kind in COMPANIONS:
                key = (_measurement(tag, device), _field(tag) + suffix)
                owners.setdefault(key, (d, tag.name, kind))
    found: list[tuple[int, Found]] = []
    for d, device in enumerate(devices):
        for index, tag in enumerate(device.tags):
            measurement, field = _measurement(tag, device), _field(tag)
            owner = owners.get((measurement, field))
            if owner is None or owner[0] == d:
                continue
            other, name, kind = devices[owner[0]].name, owner[1], owner[2]
            message = (
                f"field {field!r} is also the {kind} field of tag {name!r} of device "
                f"{other!r} in measurement {measurement!r} (a field keeps one type)"
            )
            found.append((d, [(("tags", index, "field" if tag.field else "name"), message)]))
    return found


def _measurement(tag: TagFields, device: DeviceFields) -> str:
    return tag.measurement or device.measurement


def _field(tag: TagFields) -> str:
    return tag.field or tag.name


def _labels(labels: Mapping[str, str], path: Path) -> Found:
    found: Found = []
    for key, value in labels.items():
        if key == "":
            found.append(((*path, key), "an empty tag key cannot be written to InfluxDB"))
        found += _name(key, "tag key", (*path, key))
        found += _name(value, "tag value", (*path, key))
    return found


def _name(text: str, kind: str, path: Path) -> Found:
    problem = _unwritable(text, kind)
    return [] if problem is None else [(path, f"{kind} {text!r}{problem}")]


def _unwritable(text: str, kind: str) -> str | None:
    """Why `text` cannot be written as this kind of name, or None."""
    if "\n" in text or "\r" in text:
        return " contains a line break, which line protocol cannot carry"
    if text.endswith("\\"):
        return (
            " ends with a backslash, which line protocol cannot carry (it would escape the "
            "separator after it and InfluxDB refuses the line)"
        )
    if kind == "measurement":
        if text.startswith("#"):
            return " starts with '#': InfluxDB reads the line as a comment and drops it"
        if "\\," in text or "\\ " in text:
            return ": a backslash before a comma or space cannot be written to InfluxDB"
    if kind == "field name" and any(f"\\{c}" in text for c in ',= "'):
        return (
            ": a backslash before a comma, equals sign, space or double quote cannot be "
            "written to InfluxDB"
        )
    return None
