"""Tag names, YAML scalars and `nsu=` node ids of the tag map `gateway browse` prints."""

from __future__ import annotations

import uuid
from typing import Annotated

import pytest
import yaml
from asyncua import ua
from pydantic import Field, TypeAdapter

from gateway.collectors.opcua.browse import FoundVariable
from gateway.collectors.opcua.render import (
    node_uri_id,
    render_tagmap,
    scalar,
    tag_name,
    type_label,
    unique_names,
)
from gateway.config.models import NAME_PATTERN

NAME = TypeAdapter(Annotated[str, Field(pattern=NAME_PATTERN)])
NAMESPACES = ["http://opcfoundation.org/UA/", "urn:a", "urn:plant:line 2"]


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (["Cell01", "bath_temp"], "Cell01.bath_temp"),
        (["1号炉", "温度"], "_1号炉.温度"),
        (["a b", "c/d"], "a_b.c_d"),
        (["-x"], "_-x"),
        (["..."], "_..."),
        (["%"], "_"),
        (["température"], "température"),
    ],
)
def test_tag_names_follow_the_name_rule(parts, name):
    assert tag_name(parts) == name
    NAME.validate_python(name)


def test_names_are_the_shortest_unique_path_suffix():
    paths = [
        ("Rectifier", "line_current"),
        ("Cell01", "state"),
        ("Cell01", "Feeder", "state"),
        ("Cell02", "Feeder", "state"),
        ("A", "x y"),
        ("B", "x_y"),  # the same name once made valid
        ("x_y",),
        ("x_y",),  # whole paths collide
        ("x_y_2",),  # and the number skips a name taken
    ]
    names = unique_names(paths)
    assert names[:4] == [
        "line_current",
        "Cell01.state",
        "Cell01.Feeder.state",
        "Cell02.Feeder.state",
    ]
    assert names[4:6] == ["A.x_y", "B.x_y"]
    assert names[6:] == ["x_y", "x_y_3", "x_y_2"]
    assert len({n.casefold() for n in names}) == len(names)


@pytest.mark.parametrize(
    "value",
    ["None", "null", "yes", "on", "1.5", "012", "%", "a: b", "#x", "${OPCUA_PASSWORD}", "温度",
     "tab\there", "line\nbreak", "\x85", "\U000e0001", 'q"uote', "", 0.1, -3.0, 7, True,
     float("inf")],
)  # fmt: skip
def test_scalars_read_back_as_written(value):
    assert yaml.safe_load(f"key: {scalar(value)}") == {"key": value}


def test_node_ids_name_their_namespace_by_uri():
    assert node_uri_id(ua.NodeId("P.x;y", 2), NAMESPACES) == "nsu=urn:plant:line 2;s=P.x;y"
    assert node_uri_id(ua.NodeId(42, 1), NAMESPACES) == "nsu=urn:a;i=42"
    guid = uuid.UUID(int=1)
    assert node_uri_id(ua.NodeId(guid, 1), NAMESPACES) == f"nsu=urn:a;g={guid}"
    assert node_uri_id(ua.NodeId(b"\x01\x02", 1), NAMESPACES) == "nsu=urn:a;b=AQI="
    assert node_uri_id(ua.NodeId(2258, 0), NAMESPACES) == "i=2258"
    with pytest.raises(ValueError, match="namespace 5"):
        node_uri_id(ua.NodeId(1, 5), NAMESPACES)


def var(path: tuple[str, ...], vtype: ua.VariantType | None, **kw: object) -> FoundVariable:
    fields: dict[str, object] = {
        "node_id": ua.NodeId(".".join(path), 1),
        "path": path,
        "display_name": path[-1],
        "description": "",
        "data_type": ua.NodeId(vtype.value if vtype else 22),
        "data_type_name": vtype.name if vtype else "Structure",
        "variant_type": vtype,
        "is_enum": False,
        "enum_strings": (),
        "value_rank": -1,
        "array_dimensions": (),
        "readable": True,
        "writable": False,
        "unit": "",
        "eu_range": None,
    }
    return FoundVariable(**(fields | kw))


def test_type_labels():
    assert type_label(var(("a",), ua.VariantType.Double)) == "Double"
    stamp = var(("t",), ua.VariantType.DateTime, data_type_name="UtcTime")
    assert type_label(stamp) == "UtcTime (DateTime)"
    arr = var(("v",), ua.VariantType.Float, value_rank=1, array_dimensions=(3,))
    assert type_label(arr) == "Float[3]"
    enum = var(("m",), ua.VariantType.Int32, is_enum=True, data_type_name="Mode",
               enum_strings=("0=AUTO", "1=OFF"))  # fmt: skip
    assert type_label(enum) == "Mode (Int32) enum: 0=AUTO, 1=OFF"
    assert type_label(var(("s",), None)) == "Structure (unresolved)"


def test_map_of_mixed_variables():
    found = [
        var(
            ("L", "x"),
            ua.VariantType.Double,
            unit="%",
            eu_range=(0.0, 100.0),
            description="level\nof the tank",
        ),
        var(("L", "nan"), ua.VariantType.Double, eu_range=(float("nan"), 1.0)),
        var(("L", "s"), None),
        var(("L", "h"), ua.VariantType.Int16, readable=False),
    ]
    text = render_tagmap(found, "opc.tcp://h:4840", NAMESPACES, "line", {"username": "op"})
    device = yaml.safe_load(text)["devices"][0]
    assert device["tags"] == [
        {"name": "x", "node": "nsu=urn:a;s=L.x", "unit": "%", "range": [0.0, 100.0],
         "description": "level of the tank"},
        {"name": "nan", "node": "nsu=urn:a;s=L.nan"},
    ]  # fmt: skip
    assert "#   L/s  nsu=urn:a;s=L.s  Structure (unresolved)" in text
    assert "#   L/h  nsu=urn:a;s=L.h  not readable" in text
    assert device["password"] == "${OPCUA_PASSWORD}"
    empty = yaml.safe_load(render_tagmap([], "opc.tcp://h", NAMESPACES, "d", {}))
    assert empty["devices"][0]["tags"] == []


def test_arrays_carry_their_length_and_paths_are_written_when_given():
    found = [
        var(("L", "fixed"), ua.VariantType.Double, value_rank=1, array_dimensions=(4,)),
        var(("L", "open"), ua.VariantType.Int32, value_rank=1, array_dimensions=(0,)),
        var(("L", "huge"), ua.VariantType.Float, value_rank=1, array_dimensions=(5000,)),
        var(("L", "cube"), ua.VariantType.Double, value_rank=3),
        var(("L", "plain"), ua.VariantType.Double),
    ]
    lengths = {ua.NodeId("L.open", 1): 2}
    refused = {ua.NodeId("L.cube", 1): "multi-dimensional arrays are not supported"}
    security = {"state_dir": "/var/lib/gw/ua", "trusted_certs": "certs/trusted"}
    text = render_tagmap(
        found, "opc.tcp://h", NAMESPACES, "d", security, array_lengths=lengths, not_tags=refused
    )
    device = yaml.safe_load(text)["devices"][0]
    assert (device["state_dir"], device["trusted_certs"]) == ("/var/lib/gw/ua", "certs/trusted")
    assert "username" not in device
    tags = {t["name"]: t.get("array_length") for t in device["tags"]}
    assert tags == {"fixed": 4, "open": 2, "plain": None}
    assert "L/huge  nsu=urn:a;s=L.huge  Float[5000]: array of 5000 values (at most 1000)" in text
    assert "L/cube  nsu=urn:a;s=L.cube  Double[]: multi-dimensional arrays are not supported" in (
        text
    )
