"""Values taken as the engineer wrote them, after parsing and before validation.

* InfluxDB tag values (device `metadata`, a tag's `tags`) are the text written, not what
  YAML 1.1 made of it (`010` -> 8, `no` -> false).
* Paths written in a section (buffer and file-sink folders, `token_file`) or in a device
  (the fields its model lists in `path_fields`) are relative to the tag-map file, as
  `tags_csv` is (`yamlsource.relative_to`).
"""

from __future__ import annotations

from typing import Any

from gateway.config.models import BufferConfig, DeviceFields, SinksConfig
from gateway.config.yamlsource import DataPath, Texts, relative_to


def paths_relative_to(yaml_file: str, section: Any) -> Any:
    """Paths written in a section, relative to its file (`relative_to`); defaults not written
    (`data`, `data/buffer`) stay relative to the working directory."""

    def resolve(model: Any, key: str) -> Any:
        if model is None or key not in model.model_fields_set:
            return model
        return model.model_copy(update={key: relative_to(yaml_file, getattr(model, key))})

    if isinstance(section, BufferConfig):
        return resolve(section, "directory")
    if isinstance(section, SinksConfig):
        update = {
            "file": resolve(section.file, "directory"),
            "influxdb": resolve(section.influxdb, "token_file"),
        }
        return section.model_copy(update={k: v for k, v in update.items() if v is not None})
    return section


def device_paths_relative_to(yaml_file: str, device: DeviceFields) -> DeviceFields:
    """The device with the paths its model names in `path_fields` relative to its file, for
    those written (a default stays relative to the working directory, as a buffer's does)."""
    update = {
        key: relative_to(yaml_file, value)
        for key in type(device).path_fields
        if key in device.model_fields_set and isinstance(value := getattr(device, key), str)
    }
    return device.model_copy(update=update) if update else device


def labels_as_written(data: dict[Any, Any], texts: Texts) -> None:
    """InfluxDB tag values (device `metadata`, tag `tags`) are the text written: `cell: 010`
    is "010", not YAML 1.1's octal 8, and `line: no` is "no", not false."""
    for path, text in texts.items():
        if not is_label_path(path):
            continue
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part] if _has(parent, part) else None
        if isinstance(parent, dict) and path[-1] in parent:
            parent[path[-1]] = text


def is_label_path(path: DataPath) -> bool:
    """A device's `metadata` value or a tag's `tags` value: the texts `labels_as_written`
    needs (the only ones the loader keeps)."""
    is_metadata = len(path) == 4 and path[2] == "metadata"
    is_tag_tags = len(path) == 6 and path[2] == "tags" and path[4] == "tags"
    return (is_metadata or is_tag_tags) and path[0] == "devices"


def _has(data: Any, part: Any) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
