"""Node ids and browse paths as written in a tag map: parsing, errors, resolution, formatting."""

from __future__ import annotations

import re
import uuid

import pytest
from asyncua import ua

from gateway.collectors.opcua.nodeids import (
    NamespaceError,
    NodeRef,
    format_nsu,
    parse_browse_path,
    parse_node_id,
    resolve,
)

GUID = "72962b91-fa75-4ae6-8d28-b404dc7daf63"
NAMESPACES = ["http://opcfoundation.org/UA/", "urn:other", "urn:plc-gateway:simulator"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ns=2;s=Potline1.Cell01.voltage", NodeRef(2, None, "Potline1.Cell01.voltage")),
        ("ns=2;s=a;b=c", NodeRef(2, None, "a;b=c")),  # the string identifier is the rest
        ("ns=3;i=1001", NodeRef(3, None, 1001)),
        ("i=2258", NodeRef(0, None, 2258)),
        ("s=Plain", NodeRef(0, None, "Plain")),
        (f"ns=1;g={GUID}", NodeRef(1, None, uuid.UUID(GUID))),
        (f"ns=1;g={GUID.upper()}", NodeRef(1, None, uuid.UUID(GUID))),
        ("ns=1;b=AQL+/w==", NodeRef(1, None, b"\x01\x02\xfe\xff")),
        (
            "nsu=urn:plc-gateway:simulator;s=Potline1.x",
            NodeRef(None, "urn:plc-gateway:simulator", "Potline1.x"),
        ),
        ("nsu=urn:a%3Bb;i=5", NodeRef(None, "urn:a;b", 5)),
        ("ns=65535;i=4294967295", NodeRef(65535, None, 2**32 - 1)),
    ],
)
def test_node_ids_parse(text: str, expected: NodeRef) -> None:
    assert parse_node_id(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "node id is empty"),
        ("ns=x;i=1", "namespace index 'x' is not a number"),
        ("ns=70000;i=1", "namespace index 70000 is above 65535"),
        ("ns=2", "expected ';' and i=, s=, g= or b= after ns="),
        ("ns=2;x=1", "expected i=, s=, g= or b= after the namespace, got 'x=1'"),
        ("ns=2;i=-1", "numeric identifier '-1' is not an integer 0..4294967295"),
        ("ns=2;i=4294967296", "is not an integer 0..4294967295"),
        ("ns=2;i=", "the numeric identifier is empty"),
        ("ns=2;s=", "the string identifier is empty"),
        ("ns=2;g=1234", "guid '1234' is not of the form"),
        ("ns=2;b=@@@", "'@@@' is not valid base64"),
        ("nsu=;s=x", "the namespace URI after nsu= is empty"),
        ("nsu=urn:x", "expected ';' and i=, s=, g= or b= after the URI"),
        ("Potline1.voltage", "expected i=, s=, g= or b= after the namespace"),
    ],
)
def test_bad_node_ids_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        parse_node_id(text)
    if text:
        assert repr(text) in str(caught.value)  # the config check can point at it


def test_resolve_by_uri_follows_the_namespace_array() -> None:
    ref = parse_node_id("nsu=urn:plc-gateway:simulator;s=x")
    assert resolve(ref, NAMESPACES) == ua.NodeId("x", 2)
    reordered = [NAMESPACES[0], NAMESPACES[2], NAMESPACES[1]]
    assert resolve(ref, reordered) == ua.NodeId("x", 1)


def test_resolve_names_the_missing_uri_and_the_servers_namespaces() -> None:
    with pytest.raises(NamespaceError) as caught:
        resolve(parse_node_id("nsu=urn:missing;i=1"), NAMESPACES)
    assert "'urn:missing'" in str(caught.value)
    assert "urn:plc-gateway:simulator" in str(caught.value)
    with pytest.raises(NamespaceError, match="namespace index 7 is not on the server"):
        resolve(parse_node_id("ns=7;i=1"), NAMESPACES)


@pytest.mark.parametrize(
    "node_id",
    [
        ua.NodeId(2258, 0),
        ua.NodeId("Potline1.Cell01.voltage", 2),
        ua.NodeId(1001, 1),
        ua.NodeId(uuid.UUID(GUID), 2),
        ua.NodeId(b"\x00\xff;", 2),
        ua.NodeId("with;semicolon=and equals", 2),
    ],
)
def test_format_nsu_reads_back(node_id: ua.NodeId) -> None:
    text = format_nsu(node_id, NAMESPACES)
    assert text.startswith("nsu=") == (node_id.NamespaceIndex != 0)
    assert resolve(parse_node_id(text), NAMESPACES) == node_id


def test_format_nsu_examples() -> None:
    assert format_nsu(ua.NodeId("a.b", 2), NAMESPACES) == "nsu=urn:plc-gateway:simulator;s=a.b"
    assert format_nsu(ua.NodeId(85, 0), NAMESPACES) == "i=85"
    assert format_nsu(ua.NodeId(5, 9), NAMESPACES) == "ns=9;i=5"  # beyond the array
    assert format_nsu(ua.NodeId(5, 1), ["x", "urn:a;b"]) == "nsu=urn:a%3Bb;i=5"


def test_browse_paths_parse() -> None:
    path = parse_browse_path("Plant/Potline1/2:Rectifier/line_current")
    assert path.elements == (
        (None, "Plant"),
        (None, "Potline1"),
        (2, "Rectifier"),
        (None, "line_current"),
    )
    assert parse_browse_path("/Plant/a\\/b/c\\:d").elements == (
        (None, "Plant"),
        (None, "a/b"),
        (None, "c:d"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "browse path is empty"),
        ("/", "browse path is empty"),
        ("Plant//x", "element 2 has an empty name"),
        ("Plant/x:y/z", "element 2 'x:y': namespace index 'x' is not a number 0..65535"),
        ("Plant/1:2:y", "element 2 '1:2:y' has more than one ':'"),
        ("Plant/3:", "element 2 has an empty name"),
    ],
)
def test_bad_browse_paths_name_the_element(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_browse_path(text)
