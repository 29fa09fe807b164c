"""The tag map `gateway browse` prints: one OPC UA device with a tag per readable variable of a
supported type, node ids in `nsu=<namespace uri>;...` form, units and ranges from the server."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import yaml
from asyncua import ua

from gateway.collectors.opcua.browse import FoundVariable
from gateway.collectors.opcua.models import OpcuaTag

V = ua.VariantType
#: the built-in types the collector reads (scalars, and arrays of them as indexed fields)
SUPPORTED = frozenset(
    {
        V.Boolean,
        V.SByte,
        V.Byte,
        V.Int16,
        V.UInt16,
        V.Int32,
        V.UInt32,
        V.Int64,
        V.UInt64,
        V.Float,
        V.Double,
        V.String,
        V.DateTime,
        V.ByteString,
        V.LocalizedText,
    }
)
#: the most elements an array tag may write (the bound of OpcuaTag.array_length)
MAX_ARRAY_LENGTH: int = next(
    m.le for m in OpcuaTag.model_fields["array_length"].metadata if getattr(m, "le", None)
)
_PLAIN = re.compile(r"[A-Za-z_][\w.\-/]*")  # written without quotes (when YAML reads it back)


def node_uri_id(node: ua.NodeId, namespace_array: Sequence[str]) -> str:
    """`nsu=<uri>;s=...` (namespace 0: `i=2258` as is), independent of the server's namespace
    order. A namespace index outside the array raises ValueError."""
    plain = node.to_string()
    if node.NamespaceIndex == 0:
        return plain
    if node.NamespaceIndex >= len(namespace_array):
        raise ValueError(f"{plain}: namespace {node.NamespaceIndex} is not in the namespace array")
    return f"nsu={namespace_array[node.NamespaceIndex]};{plain.split(';', 1)[1]}"


def _name_char(char: str, first: bool) -> bool:
    category = unicodedata.category(char)[0]
    if char == "_" or category == "L":
        return True
    return not first and (category in "MN" or char in ".-")


def tag_name(parts: Sequence[str]) -> str:
    """A valid tag name from browse names: letters of any script, marks, digits, `_ . -`,
    parts joined with `.`, anything else `_`; `_` in front of a leading digit or mark."""
    joined = ".".join(parts)
    chars = [c if _name_char(c, False) else "_" for c in joined]
    name = re.sub("_{2,}", "_", "".join(chars)).strip("_") or "_"
    return name if _name_char(name[0], True) else f"_{name}"


def unique_names(paths: Sequence[Sequence[str]]) -> list[str]:
    """Per browse path the shortest unique name made of its last parts (`bath_temp` when only one
    variable has that name, else `Cell01.bath_temp`); `_2`, `_3` when whole paths collide."""
    names: list[str | None] = [None] * len(paths)
    for length in range(1, max((len(p) for p in paths), default=0) + 1):
        todo = [i for i, name in enumerate(names) if name is None]
        if not todo:
            break
        candidate = {i: tag_name(paths[i][-length:]) for i in todo}
        taken = {name.casefold() for name in names if name is not None}
        counts: dict[str, int] = {}
        for i in range(len(paths)):  # a suffix is unique only if no other path shares it
            key = tag_name(paths[i][-length:]).casefold()
            counts[key] = counts.get(key, 0) + 1
        for i in todo:
            key = candidate[i].casefold()
            if (counts[key] == 1 and key not in taken) or length >= len(paths[i]):
                names[i] = candidate[i]
    every = {name.casefold() for name in names if name is not None}
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        base = name or "_"
        final, n = base, 1
        # a whole path twice: a number, never a name another variable has
        while final.casefold() in used or (n > 1 and final.casefold() in every):
            n += 1
            final = f"{base}_{n}"
        used.add(final.casefold())
        out.append(final)
    return out


def scalar(value: object) -> str:
    """A YAML scalar that reads back as exactly this value."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and yaml.safe_load(text) == text:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if c.isprintable() else _escape(c) for c in quoted)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _comment(text: str) -> str:
    return " ".join(text.split())  # one line


def type_label(var: FoundVariable) -> str:
    """`Double`, `UtcTime (DateTime)`, `Double[3]`, `CellState (Int32) enum: 0=RUN, 1=...`."""
    builtin = var.variant_type.name if var.variant_type is not None else "unresolved"
    declared = var.data_type_name
    label = builtin if declared in ("", builtin) else f"{declared} ({builtin})"
    if var.value_rank >= 0 or var.array_dimensions:
        label += "[" + ",".join(str(d) if d else "" for d in var.array_dimensions) + "]"
    if var.is_enum or var.enum_strings:
        names = [s if "=" in s else f"{i}={s}" for i, s in enumerate(var.enum_strings)]
        label += " enum" + (": " + ", ".join(names) if names else "")
    return label


def array_length(var: FoundVariable) -> int | None:
    """The number of elements of a one-dimensional array of fixed length, None otherwise
    (a scalar, or a length the server leaves open: the value read decides)."""
    if var.value_rank == 1 and len(var.array_dimensions) == 1 and var.array_dimensions[0] > 0:
        return var.array_dimensions[0]
    return None


def is_tag(var: FoundVariable) -> bool:
    """Readable and of a type the collector reads."""
    return var.readable and var.variant_type in SUPPORTED


_PATHS = ("state_dir", "trusted_certs")  # written as given, when given


def _tag_lines(var: FoundVariable, name: str, node: str, length: int | None) -> list[str]:
    lines = [f"      - name: {scalar(name)}  # {_comment(type_label(var))}"]
    lines.append(f"        node: {scalar(node)}")
    if length is not None:
        lines.append(f"        array_length: {length}")
    if var.unit:
        lines.append(f"        unit: {scalar(var.unit)}")
    span = var.eu_range
    if span is not None and all(math.isfinite(x) for x in span) and span[0] <= span[1]:
        lines.append(f"        range: [{scalar(span[0])}, {scalar(span[1])}]")
    if var.description:
        lines.append(f"        description: {scalar(_comment(var.description))}")
    return lines


def render_tagmap(
    found: Sequence[FoundVariable],
    endpoint: str,
    namespace_array: Sequence[str],
    device_name: str,
    security: Mapping[str, str | None],
    *,
    browsed_at: datetime | None = None,
    schema: str = "tagmap.schema.json",
    array_lengths: Mapping[ua.NodeId, int] | None = None,
    not_tags: Mapping[ua.NodeId, str] | None = None,
) -> str:
    """The YAML text of a tag map for `found` (from `browse_variables`) on `endpoint`.

    `security` may hold `security_policy`, `security_mode` (default "None" each) and
    `username`; with a username the map carries `password: ${OPCUA_PASSWORD}`; `state_dir`
    and `trusted_certs` are written when given. `schema` is the schema path relative to where
    the map will be saved. `array_lengths` (node -> number of elements, as the collector finds
    it) overrides the ArrayDimensions browsed; `not_tags` (node -> why) leaves variables out
    that the collector could not read (e.g. a multi-dimensional array)."""
    when = (browsed_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lengths = dict(array_lengths or {})
    excluded = dict(not_tags or {})
    for var in found:
        length = lengths.get(var.node_id, array_length(var))
        if is_tag(var) and length is not None and length > MAX_ARRAY_LENGTH:
            excluded.setdefault(
                var.node_id, f"array of {length} values (at most {MAX_ARRAY_LENGTH})"
            )
    tags = [v for v in found if is_tag(v) and v.node_id not in excluded]
    others = [v for v in found if not is_tag(v) or v.node_id in excluded]
    lines = [
        f"# yaml-language-server: $schema={schema}",
        f"# Browsed from {_comment(endpoint)} at {when} by `gateway browse`: "
        f"{len(found)} variables, {len(tags)} tags.",
        "# Node ids name their namespace by URI (nsu=), so a server that reorders its",
        "# namespaces breaks nothing. Rename, drop or extend the tags as needed.",
        "devices:",
        f"  - name: {scalar(tag_name([device_name]))}",
        "    protocol: opcua",
        f"    endpoint: {scalar(endpoint)}",
        f"    security_policy: {scalar(security.get('security_policy') or 'None')}",
        f"    security_mode: {scalar(security.get('security_mode') or 'None')}",
    ]
    username = security.get("username")
    if username:
        lines.append(f"    username: {scalar(username)}")
        lines.append(f"    password: {scalar('${OPCUA_PASSWORD}')}")
    lines += [f"    {key}: {scalar(security[key])}" for key in _PATHS if security.get(key)]
    lines.append("    tags:" if tags else "    tags: []")
    for var, name in zip(
        tags, unique_names([v.path or (v.display_name,) for v in tags]), strict=True
    ):
        node = node_uri_id(var.node_id, namespace_array)
        lines += _tag_lines(var, name, node, lengths.get(var.node_id, array_length(var)))
    if others:
        lines.append("    # Not tags (not readable, or a data type the collector does not read):")
    for var in others:
        why = "not readable" if not var.readable else type_label(var)
        if var.node_id in excluded:
            why = f"{type_label(var)}: {excluded[var.node_id]}"
        node = node_uri_id(var.node_id, namespace_array)
        lines.append(f"    #   {_comment(var.browse_path)}  {_comment(node)}  {_comment(why)}")
    return "\n".join(lines) + "\n"
