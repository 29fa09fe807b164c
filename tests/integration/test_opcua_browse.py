"""Browsing an OPC UA server into a tag map: the simulated PLC, and a small asyncua server that
holds browse to MaxNodesPerBrowse / MaxNodesPerRead and pages references with continuation
points (asyncua's own server does neither, so this one is taught both here)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
import pytest_asyncio
import yaml
from asyncua import Client, Server, ua
from asyncua.common.structures104 import new_enum
from asyncua.server.address_space import AttributeService, ViewService
from asyncua.server.uaprocessor import UaProcessor
from asyncua.ua.ua_binary import struct_from_binary
from pydantic import Field, TypeAdapter

from gateway.collectors.opcua.browse import FoundVariable, browse_variables
from gateway.collectors.opcua.browsecalls import BrowseLimits
from gateway.collectors.opcua.render import render_tagmap
from gateway.config.models import NAME_PATTERN
from simulators.catalog import CATALOG, Kind
from simulators.opcua_nodes import VARIANT
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc
from simulators.process.plant import Plant

pytestmark = pytest.mark.integration
shared_loop = pytest.mark.asyncio(loop_scope="module")

PATH = {"rectifier": ["Rectifier"], "cell01": ["Cell01"], "cell01_feeder": ["Cell01", "Feeder"]}
PATH |= {"cell02": ["Cell02"], "cell02_feeder": ["Cell02", "Feeder"]}
NAME = TypeAdapter(Annotated[str, Field(pattern=NAME_PATTERN)])  # the tag maps' name rule


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plc() -> AsyncIterator[OpcUaPlc]:
    plant = Plant(cells=2, seed=5)
    plant.step(1.0)
    server = OpcUaPlc(plant, port=0)
    await server.start()
    yield server
    await server.stop()


def by_path(found: list[FoundVariable]) -> dict[str, FoundVariable]:
    return {v.browse_path: v for v in found}


# ---- the simulated PLC -------------------------------------------------------------------


@shared_loop
async def test_every_potline_variable_is_found_with_type_unit_and_range(plc):
    async with Client(plc.endpoint) as client:
        found = by_path(await browse_variables(client))
    expected = {}
    for device in plc.plant.device_names():
        for tag in CATALOG[plc.plant.kind(device)]:
            expected["/".join(["Plant", "Potline1", *PATH[device], tag.name])] = tag
    assert set(found) == set(expected)  # no properties, methods' arguments or Server nodes
    for path, tag in expected.items():
        var = found[path]
        assert var.node_id == ua.NodeId(".".join(["Potline1", *path.split("/")[2:]]), plc.ns), path
        assert var.variant_type == VARIANT[tag.kind], path
        assert var.unit == tag.unit, path
        assert var.eu_range == ((0.0, 100.0) if tag.unit in ("%", "wt%", "vol%") else None), path
        assert var.readable, path
        assert var.writable == tag.writable, path
        assert var.value_rank == -1
        assert var.display_name == tag.name
        assert var.description.startswith(tag.description), path
        if tag.kind is Kind.ENUM:
            assert var.enum_strings, path
            assert var.enum_strings[0] in var.description, path
    assert found["Plant/Potline1/Cell01/state"].enum_strings[2] == "TAPPING"


@shared_loop
async def test_start_node_and_depth_bound_the_walk(plc):
    cell, feeder = CATALOG["cell"], CATALOG["feeder"]
    async with Client(plc.endpoint) as client:
        start = ua.NodeId("Potline1.Cell01", plc.ns)
        one = await browse_variables(client, start, depth=1)
        two = await browse_variables(client, start, depth=2)
        objects_3 = await browse_variables(client, depth=3)
        objects_4 = await browse_variables(client, depth=4)
        variable = await browse_variables(client, ua.NodeId("Potline1.Cell01.bath_temp", plc.ns))
        with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
            await browse_variables(client, ua.NodeId("Potline1.Cell99", plc.ns))
    assert [v.browse_path for v in one] == [t.name for t in cell]
    assert {v.browse_path for v in two} == {t.name for t in cell} | {
        f"Feeder/{t.name}" for t in feeder
    }
    assert objects_3 == []  # Plant/Potline1/Rectifier/line_current is 4 levels down
    assert len(objects_4) == len(CATALOG["rectifier"]) + 2 * len(cell)
    assert [(v.path, v.unit) for v in variable] == [((), "degC")]


@shared_loop
async def test_rendered_map_loads_and_every_node_resolves_back(plc):
    async with Client(plc.endpoint) as client:
        found = await browse_variables(client)
        text = render_tagmap(
            found,
            plc.endpoint,
            await client.get_namespace_array(),
            "potline",
            {"security_policy": "None", "security_mode": "None"},
            browsed_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        )
    assert text.startswith("# yaml-language-server: $schema=tagmap.schema.json\n")
    assert "2026-03-01T08:00:00Z" in text.splitlines()[1]
    assert plc.endpoint in text
    doc = yaml.safe_load(text)
    (device,) = doc["devices"]
    assert set(device) == {
        "name", "protocol", "endpoint", "security_policy", "security_mode", "tags"
    }  # fmt: skip
    assert (device["name"], device["protocol"], device["endpoint"]) == (
        "potline",
        "opcua",
        plc.endpoint,
    )
    assert (device["security_policy"], device["security_mode"]) == ("None", "None")
    tags = device["tags"]
    assert len(tags) == len(found)  # every simulator variable is readable and supported
    names = [t["name"] for t in tags]
    assert len({n.casefold() for n in names}) == len(names)
    for name in names:
        NAME.validate_python(name)
    by_name = {t["name"]: t for t in tags}
    assert by_name["Cell01.bath_temp"]["unit"] == "degC"
    assert by_name["Cell02.Feeder.hopper_level"]["range"] == [0.0, 100.0]
    assert by_name["line_current"]["unit"] == "kA"  # unique: no path needed
    assert "# Int32 enum: 0=RUN, 1=FEEDING, 2=TAPPING" in text
    for tag in tags:
        assert set(tag) <= {"name", "node", "unit", "range", "description"}
        assert tag["node"].startswith(f"nsu={NAMESPACE_URI};s=Potline1."), tag
    await _nodes_read_like_the_browsed_ones(plc.endpoint, tags, found)


async def _nodes_read_like_the_browsed_ones(
    endpoint: str, tags: list[dict[str, Any]], found: list[FoundVariable]
) -> None:
    """A plain client turns each `nsu=` id into its node and reads what a direct read gives."""
    async with Client(endpoint) as client:
        namespaces = await client.get_namespace_array()
        nodes = []
        for tag in tags:
            uri, ident = tag["node"].removeprefix("nsu=").split(";", 1)
            nodes.append(client.get_node(f"ns={namespaces.index(uri)};{ident}"))
        direct = [client.get_node(v.node_id) for v in found]
        assert [n.nodeid for n in nodes] == [n.nodeid for n in direct]
        via_map, by_id = [], []
        for i in range(0, len(nodes), READ_LIMIT):  # the limited server refuses more
            via_map += await client.read_values(nodes[i : i + READ_LIMIT])
            by_id += await client.read_values(direct[i : i + READ_LIMIT])
        assert via_map == by_id
        assert len(via_map) == len(found)


@shared_loop
async def test_a_username_puts_the_password_placeholder_in_the_map(plc):
    async with Client(plc.endpoint) as client:
        found = await browse_variables(client, ua.NodeId("Potline1.Rectifier", plc.ns), 1)
        namespaces = await client.get_namespace_array()
    security = {
        "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt",
        "username": "operator",
    }
    device = yaml.safe_load(render_tagmap(found, plc.endpoint, namespaces, "rect", security))[
        "devices"
    ][0]
    assert device["security_policy"] == "Basic256Sha256"
    assert device["security_mode"] == "SignAndEncrypt"
    assert (device["username"], device["password"]) == ("operator", "${OPCUA_PASSWORD}")
    assert [t["name"] for t in device["tags"]] == [t.name for t in CATALOG["rectifier"]]


# ---- a server with small operation limits and paged references ----------------------------


@dataclass
class Calls:
    browse: list[int] = field(default_factory=list)  # nodes per Browse request
    browse_next: list[int] = field(default_factory=list)  # continuation points per BrowseNext
    read: list[int] = field(default_factory=list)  # attributes per Read request
    no_points: int = 0  # BadNoContinuationPoints answers


class PagingViewService(ViewService):
    """Refuses more than `limit` nodes per call; returns at most `page` references per node
    and hands out continuation points for the rest."""

    def __init__(self, base: ViewService, limit: int, page: int, calls: Calls) -> None:
        super().__init__(base._aspace)
        self.limit, self.page, self.calls = limit, page, calls
        self.points: dict[bytes, list[ua.ReferenceDescription]] = {}
        self.counter = itertools.count()

    def _paged(self, refs: list[ua.ReferenceDescription], first: bool) -> ua.BrowseResult:
        if first and len(refs) > self.page and len(self.points) >= MAX_POINTS:
            self.calls.no_points += 1  # a real server's session has few points to give
            return ua.BrowseResult(StatusCode=ua.StatusCode(ua.StatusCodes.BadNoContinuationPoints))
        result = ua.BrowseResult(References=refs[: self.page])
        if len(refs) > self.page:
            point = f"cp{next(self.counter)}".encode()
            self.points[point] = refs[self.page :]
            result.ContinuationPoint = point
        return result

    def browse(self, params: ua.BrowseParameters) -> list[ua.BrowseResult]:
        self.calls.browse.append(len(params.NodesToBrowse))
        if len(params.NodesToBrowse) > self.limit:
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
        results = super().browse(params)
        return [
            r if not r.StatusCode.is_good() else self._paged(r.References, first=True)
            for r in results
        ]

    def browse_next(self, params: ua.BrowseNextParameters) -> list[ua.BrowseResult]:
        self.calls.browse_next.append(len(params.ContinuationPoints))
        if len(params.ContinuationPoints) > self.limit:
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
        out = []
        for point in params.ContinuationPoints:
            refs = self.points.pop(point, None)
            if refs is None:
                out.append(
                    ua.BrowseResult(
                        StatusCode=ua.StatusCode(ua.StatusCodes.BadContinuationPointInvalid)
                    )
                )
            else:
                out.append(self._paged(refs, first=False))
        return out


class LimitedReads(AttributeService):
    def __init__(self, base: AttributeService, limit: int, calls: Calls) -> None:
        super().__init__(base._aspace)
        self.limit, self.calls = limit, calls

    def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        self.calls.read.append(len(params.NodesToRead))
        if len(params.NodesToRead) > self.limit:
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
        return super().read(params)


_original_process = UaProcessor._process_message


async def _process_with_browse_next(
    self: UaProcessor, typeid: ua.NodeId, requesthdr: Any, seqhdr: Any, body: Any
) -> Any:
    """asyncua's server answers BrowseNext with BadServiceUnsupported; ours pages."""
    view = self.iserver.view_service
    if typeid == ua.NodeId(ua.ObjectIds.BrowseNextRequest_Encoding_DefaultBinary) and isinstance(
        view, PagingViewService
    ):
        params = struct_from_binary(ua.BrowseNextParameters, body)
        response = ua.BrowseNextResponse()
        response.Parameters.Results = view.browse_next(params)
        self.send_response(requesthdr.RequestHandle, seqhdr, response)
        return True
    return await _original_process(self, typeid, requesthdr, seqhdr, body)


URI = "urn:test:limited"
BROWSE_LIMIT, READ_LIMIT, PAGE, MAX_POINTS = 3, 5, 2, 2


@pytest_asyncio.fixture
async def limited(monkeypatch) -> AsyncIterator[tuple[Server, Calls, int]]:
    monkeypatch.setattr(UaProcessor, "_process_message", _process_with_browse_next)
    server = Server()
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:0")
    ns = await server.register_namespace(URI)
    for node, value in [
        (ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse, BROWSE_LIMIT),
        (ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead, READ_LIMIT),
    ]:
        await server.get_node(ua.NodeId(node)).write_value(ua.Variant(value, ua.VariantType.UInt32))
    line = await server.nodes.objects.add_folder(
        ua.NodeId("Line", ns), ua.QualifiedName("Line", ns)
    )
    for unit in range(4):  # more children than MaxNodesPerBrowse, each with more than a page
        obj = await line.add_object(ua.NodeId(f"U{unit}", ns), ua.QualifiedName(f"U{unit}", ns))
        for k in range(5):
            var = await obj.add_variable(
                ua.NodeId(f"U{unit}.v{k}", ns), ua.QualifiedName(f"v{k}", ns), float(unit * 10 + k)
            )
            await var.add_property(
                ua.NodeId(f"U{unit}.v{k}.EU", ns),
                ua.QualifiedName("EngineeringUnits", 0),
                ua.EUInformation(DisplayName=ua.LocalizedText("kA")),
                ua.VariantType.ExtensionObject,
                ua.NodeId(ua.ObjectIds.EUInformation),
            )
            await var.add_property(
                ua.NodeId(f"U{unit}.v{k}.EURange", ns),
                ua.QualifiedName("EURange", 0),
                ua.Range(Low=0.0, High=float(k + 1)),
                ua.VariantType.ExtensionObject,
                ua.NodeId(ua.ObjectIds.Range),
            )
    odd = await line.add_object(ua.NodeId("Odd", ns), ua.QualifiedName("Odd", ns))
    mode = await new_enum(server, ns, "PumpMode", ["AUTO", "MANUAL", "OFF"])
    await odd.add_variable(ua.NodeId("mode", ns), ua.QualifiedName("mode", ns),
                           ua.Variant(1, ua.VariantType.Int32), datatype=mode.nodeid)  # fmt: skip
    await odd.add_variable(
        ua.NodeId("stamp", ns),
        ua.QualifiedName("stamp", ns),
        ua.Variant(datetime(2026, 1, 1, tzinfo=UTC), ua.VariantType.DateTime),
        datatype=ua.NodeId(ua.ObjectIds.UtcTime),
    )
    await odd.add_variable(ua.NodeId("temps", ns), ua.QualifiedName("temps", ns),
                           ua.Variant([1.0, 2.0, 3.0], ua.VariantType.Double))  # fmt: skip
    await odd.add_variable(ua.NodeId("id", ns), ua.QualifiedName("id", ns),
                           ua.Variant(uuid.UUID(int=7), ua.VariantType.Guid))  # fmt: skip
    await odd.add_variable(ua.NodeId("any", ns), ua.QualifiedName("any", ns),
                           ua.Variant(1.5, ua.VariantType.Double),
                           datatype=ua.NodeId(ua.ObjectIds.Number))  # fmt: skip
    hidden = await odd.add_variable(ua.NodeId("hidden", ns), ua.QualifiedName("hidden", ns), 5.0)
    await hidden.write_attribute(
        ua.AttributeIds.UserAccessLevel, ua.DataValue(ua.Variant(0, ua.VariantType.Byte))
    )
    await hidden.write_attribute(
        ua.AttributeIds.AccessLevel, ua.DataValue(ua.Variant(0, ua.VariantType.Byte))
    )
    await odd.add_variable(ua.NodeId("数值", ns), ua.QualifiedName("1号 温度", ns), 7.5)
    await server.start()
    calls = Calls()
    iserver = server.iserver
    iserver.view_service = PagingViewService(iserver.view_service, BROWSE_LIMIT, PAGE, calls)
    iserver.attribute_service = LimitedReads(iserver.attribute_service, READ_LIMIT, calls)
    try:
        yield server, calls, ns
    finally:
        await server.stop()


def endpoint_of(server: Server) -> str:
    assert server.bserver is not None
    return f"opc.tcp://127.0.0.1:{server.bserver.port}"  # the port 0 was bound to


async def test_batches_respect_the_limits_and_follow_continuation_points(limited):
    server, calls, ns = limited
    async with Client(endpoint_of(server)) as client:
        found = by_path(await browse_variables(client, ua.NodeId("Line", ns)))
    assert calls.browse
    assert max(calls.browse) <= BROWSE_LIMIT
    assert calls.browse_next
    assert max(calls.browse_next) <= BROWSE_LIMIT
    assert max(calls.read) <= READ_LIMIT
    assert max(calls.browse) == BROWSE_LIMIT  # batches are filled, not one node each
    assert calls.no_points  # the nodes refused for want of a point were browsed again
    units = {f"U{u}/v{k}": (u, k) for u in range(4) for k in range(5)}
    assert set(units) <= set(found)
    for path, (_, k) in units.items():  # properties beyond the first page are found too
        assert (found[path].unit, found[path].eu_range) == ("kA", (0.0, float(k + 1))), path


async def test_data_types_resolve_through_the_type_hierarchy(limited):
    server, _, ns = limited
    async with Client(endpoint_of(server)) as client:
        found = by_path(await browse_variables(client, ua.NodeId("Line", ns)))
    mode, stamp = found["Odd/mode"], found["Odd/stamp"]
    assert (mode.data_type_name, mode.variant_type, mode.is_enum) == (
        "PumpMode",
        ua.VariantType.Int32,
        True,
    )
    assert mode.enum_strings == ("0=AUTO", "1=MANUAL", "2=OFF")
    assert (stamp.data_type_name, stamp.variant_type) == ("UtcTime", ua.VariantType.DateTime)
    temps = found["Odd/temps"]
    assert temps.variant_type == ua.VariantType.Double
    assert temps.value_rank >= 0  # asyncua: OneOrMoreDimensions
    assert found["Odd/id"].variant_type == ua.VariantType.Guid
    assert not found["Odd/hidden"].readable
    assert found["Odd/any"].variant_type is None  # abstract: any number, nothing to plan by


async def test_unsupported_and_unreadable_variables_are_comments_not_tags(limited):
    server, _, ns = limited
    endpoint = endpoint_of(server)
    async with Client(endpoint) as client:
        found = await browse_variables(client, ua.NodeId("Line", ns), limits=BrowseLimits(3, 5))
        text = render_tagmap(found, endpoint, await client.get_namespace_array(), "1 line", {})
    device = yaml.safe_load(text)["devices"][0]
    NAME.validate_python(device["name"])
    tags = {t["name"]: t for t in device["tags"]}
    for name in tags:
        NAME.validate_python(name)
    assert "id" not in tags
    assert "any" not in tags
    assert f"nsu={URI};s=any  Number (unresolved)" in text
    assert "hidden" not in tags
    assert f"nsu={URI};s=id  Guid" in text
    assert f"nsu={URI};s=hidden  not readable" in text
    assert tags["mode"]["node"] == f"nsu={URI};s=mode"
    assert "# PumpMode (Int32) enum: 0=AUTO, 1=MANUAL, 2=OFF" in text
    assert "# UtcTime (DateTime)" in text
    assert "# Double[]" in text
    assert tags["_1号_温度"]["node"] == f"nsu={URI};s=数值"
    assert tags["U3.v4"]["range"] == [0.0, 5.0]
    assert "password" not in device
    assert device["security_policy"] == "None"
    await _nodes_read_like_the_browsed_ones(
        endpoint,
        list(tags.values()),
        [v for v in found if v.readable and v.node_id.Identifier not in ("id", "any")],
    )
