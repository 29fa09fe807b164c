"""Pydantic's validation errors, said in the tag map's own words.

Pydantic speaks of its models ("Input should be a valid dictionary or instance of Scaling",
"String should match pattern '^...$'"). Plant engineers wrote a YAML key: a shape error says
what that key expects, with an example; a bad name says which characters a name may hold; a
misspelt choice suggests the closest one (case-insensitively).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args

from pydantic import BaseModel

from gateway.config.models import NAME_PATTERN

_DEVICE = "{name: cell07, endpoint: 'modbus+tcp://10.0.0.7:502'}"
_LABELS = "a mapping of InfluxDB tag names to text"

#: (model, key) -> what the key expects, with an example; a model's base classes are looked up
#: too, so what `DeviceFields` / `TagFields` say holds for every protocol
EXPECTED: dict[tuple[str, str], str] = {
    ("TagMapFile", "devices"): f"a list of devices, e.g. `devices: [{_DEVICE}]`",
    (
        "TagMapFile",
        "sinks",
    ): "a mapping, e.g. `sinks: {precision: ms, influxdb: {bucket: plant_a}}`",
    ("TagMapFile", "buffer"): "a mapping, e.g. `buffer: {directory: data/buffer}`",
    ("TagMapFile", "health"): "a mapping, e.g. `health: {port: 9273}`",
    ("SinksConfig", "influxdb"): "a mapping, e.g. `influxdb: {bucket: plant_a}`",
    ("SinksConfig", "file"): "a mapping, e.g. `file: {directory: data}`",
    ("ModbusDevice", "tags"): "a list of tags, "
    "e.g. `tags: [{name: voltage, space: input_register, address: 0}]`",
    ("ModbusDevice", "endpoint"): "text, e.g. `endpoint: 'modbus+tcp://10.0.0.7:502'`",
    ("DeviceFields", "tags_csv"): "a CSV file name or a list of them, e.g. `tags_csv: cells.csv`",
    ("DeviceFields", "metadata"): f'{_LABELS}, e.g. `metadata: {{site: plant_a, cell: "07"}}`',
    ("DeviceFields", "scan_groups"): "a mapping of group names to durations, "
    "e.g. `scan_groups: {fast: 200ms, slow: 10s}`",
    ("DeviceFields", "deadband"): "a mapping, "
    "e.g. `deadband: {absolute: 0.5}` or `deadband: {percent: 1}`",
    ("TagFields", "deadband"): "a mapping, "
    "e.g. `deadband: {absolute: 0.5}` or `deadband: {percent: 1}`",
    ("TagFields", "scale"): "a mapping, "
    "e.g. `scale: {factor: 0.1}` or `scale: {raw: [0, 32000], eng: [0, 400]}`",
    ("TagFields", "range"): "a pair [low, high], e.g. `range: [0, 100]`",
    ("TagFields", "tags"): f"{_LABELS}, e.g. `tags: {{phase: L1}}`",
    ("TagFields", "scan"): "a duration or the name of a scan group, "
    "e.g. `scan: 500ms` or `scan: fast`",
    ("Scaling", "raw"): "a pair [low, high], e.g. `raw: [0, 32000]`",
    ("Scaling", "eng"): "a pair [low, high], e.g. `eng: [0, 400]`",
}
#: model -> what one item of a list of it is
ITEMS: dict[str, str] = {
    "ModbusDevice": f"a device is a mapping, e.g. `- {_DEVICE}`",
    "ModbusTag": "a tag is a mapping, "
    "e.g. `- {name: voltage, space: input_register, address: 0, type: float32}`",
}
#: error types that mean "this key has the wrong shape" (pairs: too many or too few items)
SHAPE_ERRORS = frozenset(
    {"model_type", "dict_type", "list_type", "tuple_type", "too_long", "string_type", "float_type"}
)
#: what PLC manuals and other tools call a type -> our name for it
TYPE_ALIASES = {
    "float": "float32",
    "real": "float32",
    "single": "float32",
    "double": "float64",
    "lreal": "float64",
    "int": "int16",
    "short": "int16",
    "word": "uint16",
    "dint": "int32",
    "long": "int32",
    "dword": "uint32",
    "udint": "uint32",
    "boolean": "bool",
    "str": "string",
    "text": "string",
}
#: pydantic's scalar type errors -> what the key expects
SCALARS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}
NAME_RULE = (
    "a name starts with a letter (of any script) or `_`, and holds letters, digits, "
    "`_`, `.` and `-`"
)


def message_of(error: Any, model: type[BaseModel], path: tuple[Any, ...]) -> str:
    """The message of one pydantic error; `path` is where it points in the input."""
    kind, loc = error["type"], error["loc"]
    if kind in SHAPE_ERRORS or (kind == "missing" and loc and isinstance(loc[-1], int)):
        expected = _expected(model, path)
        if expected:
            return expected
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        return f"unknown key {loc[-1]!r}" + _suggest(
            str(loc[-1]), parent.model_fields if parent else ()
        )
    if kind == "missing":
        return "too few items: expected [low, high]" if isinstance(loc[-1], int) else "required"
    if kind in ("enum", "literal_error"):
        expected = error.get("ctx", {}).get("expected", "")
        choices = re.findall(r"'([^']*)'", expected)
        return f"{error['input']!r} is not allowed: expected {expected}" + _choice_hint(
            str(error["input"]), choices
        )
    if kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == NAME_PATTERN:
        return name_message(str(error["input"]))
    if kind in SCALARS:
        return f"expected {SCALARS[kind]}, not {_what(error.get('input'))}"
    message: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "less_than_equal" and path and path[-1] == "address":
        message += _six_digit_modicon(error["input"])
    return message


def _what(value: Any) -> str:
    """A value as an engineer would name it."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _six_digit_modicon(address: Any) -> str:
    """' (... probably address: N)' for 400001-style addresses (6-digit Modicon notation)."""
    if isinstance(address, str) and address.strip().isdigit():  # a CSV cell
        address = int(address)
    if not isinstance(address, int):
        return ""
    prefix, offset = divmod(address, 100_000)
    called = {1: "discrete input", 3: "input register", 4: "holding register"}.get(prefix)
    if called is None or not 1 <= offset <= 65536:
        return ""
    return (
        f" ({address} looks like 6-digit Modicon notation, where {called} {prefix}00001 is "
        f"address 0: probably address: {offset - 1})"
    )


def name_message(name: str) -> str:
    """Why `name` is not a valid device or tag name, in words."""
    if not name:
        reason = "it is empty"
    elif not (name[0].isalpha() or name[0] == "_"):
        reason = f"it starts with {name[0]!r}"
    else:
        bad = next((c for c in name if not (c.isalnum() or c in "_.-")), name[0])
        reason = "it contains a space" if bad.isspace() else f"it contains {bad!r}"
    return f"{name!r} is not a valid name: {reason}; {NAME_RULE}"


def _expected(model: type[BaseModel], path: tuple[Any, ...]) -> str | None:
    """'expected ...' for the key (or list item) at `path`, when the table knows it."""
    owner_model: type[BaseModel] | None = model
    key, item = None, not path
    current: type[BaseModel] | None = model
    for part in path:
        if isinstance(part, int) and key is not None:
            item = True
            continue
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return None
        owner_model, key, item = current, part, False
        current = _find_model(current.model_fields[part].annotation)
    if item:
        return _first(ITEMS, current, lambda name: name)
    found = _first(EXPECTED, owner_model, lambda name: (name, key)) if key is not None else None
    return f"expected {found}" if found else None


def _first(table: Any, model: type[BaseModel] | None, key: Any) -> str | None:
    """The entry of `model` or of the nearest base class that has one."""
    for cls in model.__mro__ if model is not None else ():
        found = table.get(key(cls.__name__))
        if found is not None:
            return str(found)
    return None


def _choice_hint(word: str, choices: list[str]) -> str:
    alias = TYPE_ALIASES.get(word.lower())
    if alias in choices and alias == "float32":
        return " (did you mean 'float32'? most PLC floats are 32-bit; 'float64' is a 64-bit double)"
    if alias in choices:
        return f" (did you mean {alias!r}?)"
    return _suggest(word, choices)


def _suggest(word: str, choices: Any) -> str:
    """' (did you mean ...?)' with the closest choice, ignoring case."""
    by_lower = {str(choice).lower(): str(choice) for choice in choices}
    hint = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return f" (did you mean {by_lower[hint[0]]!r}?)" if hint else ""


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc` (list indexes are skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, str) and current is not None and part in current.model_fields:
            current = _find_model(current.model_fields[part].annotation)
    return current


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _find_model(arg)
        if found is not None:
            return found
    return None
