"""An asyncua server on 127.0.0.1 (port 0) with a variable of every supported data type.

Built for the OPC UA building blocks' tests: scalars and arrays of each type, an enumeration,
UtcTime and Duration subtypes, an abstract-typed node, a node with a Bad status, nodes that
cannot be written (a structure, a matrix), low OperationLimits, and a count of the Read and
TranslateBrowsePaths requests the server receives (asyncua's server publishes its limits but
does not enforce them, so the tests count what arrives).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from asyncua import Node, Server, ua
from asyncua.common.callback import CallbackType, ServerItemCallback

URI = "urn:plc-gateway:test:uadata"
OTHER_URI = "urn:plc-gateway:test:other"
VT = ua.VariantType
WHEN = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)

# name -> (variant type, value); every scalar is also published as an array "<name>_array"
SCALARS: dict[str, tuple[ua.VariantType, Any]] = {
    "boolean": (VT.Boolean, True),
    "sbyte": (VT.SByte, -128),
    "int16": (VT.Int16, -32768),
    "int32": (VT.Int32, -(2**31)),
    "int64": (VT.Int64, -(2**63)),
    "byte": (VT.Byte, 255),
    "uint16": (VT.UInt16, 65535),
    "uint32": (VT.UInt32, 2**32 - 1),
    "uint64": (VT.UInt64, 2**64 - 1),
    "float": (VT.Float, 0.1),
    "double": (VT.Double, 2.5e300),
    "string": (VT.String, "Potline 1, cell 01 = ok"),
    "datetime": (VT.DateTime, WHEN),
    "bytestring": (VT.ByteString, b"\x00\x01\xfe\xff"),
    "localizedtext": (VT.LocalizedText, ua.LocalizedText("Normal", "en-US")),
}
ARRAY_LENGTH = 3


def nid(ident: str | int, ns: int) -> ua.NodeId:
    return ua.NodeId(cast(Any, ident), cast(Any, ns))


@dataclass
class TypedServer:
    server: Server
    ns: int
    endpoint: str
    reads: list[int] = field(default_factory=list)  # nodes per Read request from clients
    translates: list[int] = field(default_factory=list)  # paths per TranslateBrowsePaths

    def node(self, name: str) -> ua.NodeId:
        return nid(f"Typed.{name}", self.ns)

    async def stop(self) -> None:
        await self.server.stop()


async def _variable(
    folder: Node, ns: int, name: str, variant: ua.Variant, datatype: ua.NodeId | None = None
) -> Node:
    ident = nid(f"Typed.{name}", ns)
    dtype = datatype or nid(variant.VariantType.value, 0)
    return await folder.add_variable(ident, ua.QualifiedName(name, ns), variant, datatype=dtype)


async def start_typed_server(
    max_nodes_per_read: int = 5,
    max_translate: int = 2,
    reorder: bool = False,
    enforce_read_limit: int = 0,
) -> TypedServer:
    """Start the server; `reorder` registers another namespace first (indexes shift);
    `enforce_read_limit` > 0 refuses larger Reads with BadTooManyOperations, as strict servers
    do (asyncua's own does not), whatever MaxNodesPerRead says."""
    server = Server()
    await server.init()
    server.disable_clock()
    server.set_endpoint("opc.tcp://127.0.0.1:0")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    if reorder:
        await server.register_namespace(OTHER_URI)
    ns = await server.register_namespace(URI)
    plant = await server.nodes.objects.add_folder(nid("Plant", ns), ua.QualifiedName("Plant", ns))
    folder = await plant.add_folder(nid("Typed", ns), ua.QualifiedName("Typed", ns))
    for name, (vtype, value) in SCALARS.items():
        await _variable(folder, ns, name, ua.Variant(value, vtype))
        array = await _variable(folder, ns, f"{name}_array", ua.Variant([value] * 3, vtype))
        await array.write_value_rank(1)
        await array.write_array_dimensions([ARRAY_LENGTH])
    open_array = await _variable(folder, ns, "open_array", ua.Variant([1.0, 2.0], VT.Double))
    await open_array.write_value_rank(1)
    await open_array.write_array_dimensions([0])
    server_state = nid(ua.ObjectIds.ServerState, 0)  # an enumeration of namespace 0
    await _variable(folder, ns, "enum", ua.Variant(2, VT.Int32), server_state)
    await _variable(folder, ns, "utctime", ua.Variant(WHEN, VT.DateTime), nid(294, 0))
    await _variable(folder, ns, "duration", ua.Variant(250.0, VT.Double), nid(290, 0))
    await _variable(folder, ns, "abstract", ua.Variant(7, VT.Int16), nid(26, 0))  # Number
    await _variable(folder, ns, "structure", ua.Variant(ua.Range(0.0, 1.0)), nid(884, 0))
    matrix = ua.Variant([[1.0, 2.0], [3.0, 4.0]], VT.Double, Dimensions=[2, 2])
    await _variable(folder, ns, "matrix", matrix)
    bad = await _variable(folder, ns, "bad", ua.Variant(0.0, VT.Double))
    status = ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure))
    await bad.write_value(ua.DataValue(ua.Variant(0.0, VT.Double), StatusCode=status))
    uncertain = await _variable(folder, ns, "uncertain", ua.Variant(1.5, VT.Double))
    code = ua.StatusCode(ua.UInt32(ua.StatusCodes.UncertainLastUsableValue))
    await uncertain.write_value(ua.DataValue(ua.Variant(1.5, VT.Double), StatusCode=code))
    await _variable(folder, ns, "guid_node", ua.Variant(1, VT.Int32))
    await folder.add_variable(
        nid(uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63"), ns),
        ua.QualifiedName("by_guid", ns),
        ua.Variant(42, VT.Int32),
    )
    await folder.add_variable(nid(b"\x01\x02", ns), ua.QualifiedName("by_bytes", ns), 7.0)
    await folder.add_variable(nid(9001, ns), ua.QualifiedName("by_number", ns), 9001)
    await _write_limit(server, "MaxNodesPerRead", max_nodes_per_read)
    await _write_limit(server, "MaxNodesPerTranslateBrowsePathsToNodeIds", max_translate)
    await _write_limit(server, "MaxMonitoredItemsPerCall", 0)  # 0: no limit
    await server.start()
    assert server.bserver is not None
    typed = TypedServer(server, ns, f"opc.tcp://127.0.0.1:{server.bserver.port}")

    async def count_reads(event: ServerItemCallback, _dispatcher: object) -> None:
        if event.is_external:
            typed.reads.append(len(event.request_params.NodesToRead))

    server.subscribe_server_callback(CallbackType.PreRead, count_reads)
    if enforce_read_limit:
        _enforce(server, enforce_read_limit)
    _count_translates(server, typed)
    return typed


def _count_translates(server: Server, typed: TypedServer) -> None:
    """asyncua has no callback for TranslateBrowsePaths: wrap the view service's method."""
    view = server.iserver.view_service
    original = view.translate_browsepaths_to_nodeids

    def counted(paths: list[ua.BrowsePath]) -> list[ua.BrowsePathResult]:
        typed.translates.append(len(paths))
        return original(paths)

    view.translate_browsepaths_to_nodeids = counted  # type: ignore[method-assign]


def _enforce(server: Server, limit: int) -> None:
    service = server.iserver.attribute_service
    original = service.read

    def read(params: ua.ReadParameters) -> list[ua.DataValue]:
        if len(params.NodesToRead) > limit:
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
        return original(params)

    service.read = read  # type: ignore[method-assign]


async def _write_limit(server: Server, name: str, value: int) -> None:
    node_id = getattr(ua.ObjectIds, f"Server_ServerCapabilities_OperationLimits_{name}")
    node = server.get_node(ua.NodeId(node_id))
    await node.write_value(ua.Variant(value, VT.UInt32))
