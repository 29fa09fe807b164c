"""Node ids and browse paths as written in a tag map, checked at config time, resolved per session.

Node ids (OPC UA Part 6, 5.3.1.10): ``ns=<n>;i=<n>``, ``ns=<n>;s=<text>``, ``ns=<n>;g=<guid>``,
``ns=<n>;b=<base64>``, the same without ``ns=`` for namespace 0, and ``nsu=<uri>;<i|s|g|b>=...``
naming the namespace by URI, so a server restart that reorders its NamespaceArray changes
nothing; a ``;`` inside the URI is written ``%3B``. Parsing is pure; `resolve` maps the
namespace against the server's NamespaceArray of the current session.

Browse paths: ``Plant/Potline1/Rectifier/line_current``, followed from the Objects folder along
hierarchical references. Each element is a browse name, optionally ``<ns>:Name`` with a
namespace index; an element without one takes the `default_namespace` the caller passes. A
``/``, ``:`` or ``\\`` inside a name is escaped with a backslash; a leading ``/`` is allowed.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any, cast

from asyncua import Client, ua

from gateway.collectors.opcua.limits import chunks

_UINT32_MAX = 2**32 - 1
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KINDS = {"i": "numeric", "s": "string", "g": "guid", "b": "opaque (base64)"}


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A parsed node id: namespace by index or by URI (exactly one), and the identifier.

    `identifier` is an int (i=), str (s=), uuid.UUID (g=) or bytes (b=).
    """

    namespace: int | None
    namespace_uri: str | None
    identifier: int | str | uuid.UUID | bytes


@dataclass(frozen=True, slots=True)
class BrowsePath:
    """A parsed browse path from Objects: (namespace index or None for the default, name)."""

    text: str
    elements: tuple[tuple[int | None, str], ...]


class NamespaceError(LookupError):
    """A node id's namespace is not on the server (missing URI or index out of range)."""


@dataclass(frozen=True, slots=True)
class BrowsePathError:
    """A browse path the server could not follow: the path and the server's status name."""

    path: str
    status: str

    def __str__(self) -> str:
        return f"browse path {self.path!r} not found on the server ({self.status})"


def _namespace_index(text: str, whole: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"node id {whole!r}: namespace index {text!r} is not a number")
    index = int(text)
    if index > 0xFFFF:
        raise ValueError(f"node id {whole!r}: namespace index {index} is above 65535")
    return index


def _identifier(text: str, whole: str) -> int | str | uuid.UUID | bytes:
    kind, sep, value = text.partition("=")
    if not sep or kind not in _KINDS:
        raise ValueError(
            f"node id {whole!r}: expected i=, s=, g= or b= after the namespace, got {text!r}"
        )
    if value == "":
        raise ValueError(f"node id {whole!r}: the {_KINDS[kind]} identifier is empty")
    if kind == "i":
        if not value.isdigit() or not value.isascii() or int(value) > _UINT32_MAX:
            raise ValueError(
                f"node id {whole!r}: numeric identifier {value!r}"
                f" is not an integer 0..{_UINT32_MAX}"
            )
        return int(value)
    if kind == "g":
        if not _GUID.fullmatch(value):
            raise ValueError(
                f"node id {whole!r}: guid {value!r} is not of the form "
                "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)"
            )
        return uuid.UUID(value)
    if kind == "b":
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError(f"node id {whole!r}: {value!r} is not valid base64") from None
    return value


def parse_node_id(text: str) -> NodeRef:
    """Parse a tag map's node id; ValueError says precisely what is wrong."""
    if not text:
        raise ValueError("node id is empty")
    head, sep, rest = text.partition(";")
    if head.startswith("nsu="):
        uri = head[4:].replace("%3B", ";").replace("%3b", ";")
        if not uri:
            raise ValueError(f"node id {text!r}: the namespace URI after nsu= is empty")
        if not sep:
            raise ValueError(f"node id {text!r}: expected ';' and i=, s=, g= or b= after the URI")
        return NodeRef(None, uri, _identifier(rest, text))
    if head.startswith("ns="):
        if not sep:
            raise ValueError(f"node id {text!r}: expected ';' and i=, s=, g= or b= after ns=")
        return NodeRef(_namespace_index(head[3:], text), None, _identifier(rest, text))
    return NodeRef(0, None, _identifier(text, text))


def parse_browse_path(text: str) -> BrowsePath:
    """Parse ``A/B/2:C`` (from Objects); ValueError names the faulty element."""
    if not text.strip("/"):
        raise ValueError("browse path is empty")
    elements: list[tuple[int | None, str]] = []
    body = text[1:] if text.startswith("/") else text  # a leading '/' (the Objects folder)
    for number, raw in enumerate(_split(body, "/"), start=1):
        parts = _split(raw, ":")
        if len(parts) > 2:
            raise ValueError(
                f"browse path {text!r}: element {number} {raw!r} has more than one ':'"
                " (escape a ':' in a name as '\\:')"
            )
        namespace: int | None = None
        if len(parts) == 2:
            prefix = parts[0]
            if not prefix.isdigit() or not prefix.isascii() or int(prefix) > 0xFFFF:
                raise ValueError(
                    f"browse path {text!r}: element {number} {raw!r}: namespace index"
                    f" {prefix!r} is not a number 0..65535"
                )
            namespace = int(prefix)
        name = _unescape(parts[-1])
        if not name:
            raise ValueError(f"browse path {text!r}: element {number} has an empty name")
        elements.append((namespace, name))
    return BrowsePath(text, tuple(elements))


def _split(text: str, sep: str) -> list[str]:
    """Split at `sep` not escaped by a backslash (escapes are kept for `_unescape`)."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _node_id(identifier: int | str | uuid.UUID | bytes, namespace: int) -> ua.NodeId:
    # asyncua annotates NodeId's fields with its own int/str subclasses
    return ua.NodeId(cast(Any, identifier), cast(Any, namespace))


def resolve(ref: NodeRef, namespace_array: list[str]) -> ua.NodeId:
    """The NodeId of `ref` on a server with this NamespaceArray; NamespaceError if absent."""
    if ref.namespace_uri is not None:
        try:
            index = namespace_array.index(ref.namespace_uri)
        except ValueError:
            raise NamespaceError(
                f"namespace {ref.namespace_uri!r} is not on the server; "
                f"its namespaces are {namespace_array!r}"
            ) from None
    else:
        index = ref.namespace or 0
        if index >= len(namespace_array):
            raise NamespaceError(
                f"namespace index {index} is not on the server; "
                f"its namespaces are {namespace_array!r}"
            )
    return _node_id(ref.identifier, index)


def _identifier_text(node_id: ua.NodeId) -> str:
    ident = node_id.Identifier
    if isinstance(ident, bool) or not isinstance(ident, int | str | uuid.UUID | bytes):
        raise ValueError(f"node id {node_id!r}: unsupported identifier {ident!r}")
    if isinstance(ident, int):
        return f"i={ident}"
    if isinstance(ident, uuid.UUID):
        return f"g={ident}"
    if isinstance(ident, bytes):
        return "b=" + base64.b64encode(ident).decode("ascii")
    return f"s={ident}"


def format_nsu(node_id: ua.NodeId, namespace_array: list[str]) -> str:
    """The tag-map text of `node_id`: ``nsu=<uri>;...`` (plain ``i=85`` style for namespace 0,
    ``ns=<n>;...`` when the index is beyond the NamespaceArray). `parse_node_id` reads it back."""
    ident = _identifier_text(node_id)
    index = node_id.NamespaceIndex
    if index == 0:
        return ident
    if index < len(namespace_array):
        return f"nsu={namespace_array[index].replace(';', '%3B')};{ident}"
    return f"ns={index};{ident}"


def _browse_path(path: BrowsePath, default_namespace: int) -> ua.BrowsePath:
    relative = ua.RelativePath()
    for namespace, name in path.elements:
        element = ua.RelativePathElement()
        element.ReferenceTypeId = _node_id(ua.ObjectIds.HierarchicalReferences, 0)
        element.IncludeSubtypes = cast(Any, True)
        element.IsInverse = cast(Any, False)
        index = default_namespace if namespace is None else namespace
        element.TargetName = ua.QualifiedName(name, cast(Any, index))
        relative.Elements.append(element)
    result = ua.BrowsePath()
    result.StartingNode = _node_id(ua.ObjectIds.ObjectsFolder, 0)
    result.RelativePath = relative
    return result


async def resolve_browse_paths(
    client: Client,
    paths: list[BrowsePath],
    *,
    default_namespace: int,
    max_per_call: int = 0,
) -> list[ua.NodeId | BrowsePathError]:
    """The NodeId of each path (or a BrowsePathError), in order, with TranslateBrowsePathsToNodeIds
    calls of at most `max_per_call` paths (MaxNodesPerTranslateBrowsePathsToNodeIds; 0 = one call).

    Of several targets the first one fully resolved is taken. Connection errors propagate.
    """
    out: list[ua.NodeId | BrowsePathError] = []
    for part in chunks(paths, max_per_call):
        requests = [_browse_path(path, default_namespace) for path in part]
        results = await client.uaclient.translate_browsepaths_to_nodeids(requests)
        for path, result in zip(part, results, strict=True):
            out.append(_target(path, result))
    return out


def _target(path: BrowsePath, result: ua.BrowsePathResult) -> ua.NodeId | BrowsePathError:
    if not result.StatusCode.is_good():
        return BrowsePathError(path.text, result.StatusCode.name)
    for target in result.Targets:
        if target.RemainingPathIndex == _UINT32_MAX:
            found = target.TargetId
            return _node_id(found.Identifier, found.NamespaceIndex)
    return BrowsePathError(path.text, "BadNoMatch")
