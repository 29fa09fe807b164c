"""A small asyncua server for the OPC UA building-block tests: N Double variables s=v0..v{N-1}
in namespace URI `URI`, on 127.0.0.1 at a fixed free port (so it can restart on the same one),
optionally with other namespaces registered first (to move URI's index) and with its
MaxMonitoredItemsPerCall set and enforced (asyncua's server does not enforce it itself).
"""

from __future__ import annotations

import contextlib
from typing import Any

from asyncua import Server, ua

from simulators.ports import free_port

URI = "urn:test:uasession"
_MASK = ua.NodeAttributesMask
SPECIFIED = (
    _MASK.DisplayName | _MASK.Value | _MASK.DataType | _MASK.ValueRank | _MASK.AccessLevel
) | _MASK.UserAccessLevel


class UaTestServer:
    def __init__(self, count: int, port: int | None = None) -> None:
        self.count = count
        self.port = port or free_port("127.0.0.1")
        self.server: Server | None = None
        self.ns = 0
        self.create_calls: list[int] = []  # items per CreateMonitoredItems call seen
        self.max_per_call = 0

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/"

    async def start(self, extra_namespaces: tuple[str, ...] = (), max_per_call: int = 0) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        for uri in extra_namespaces:
            await server.register_namespace(uri)
        self.ns = await server.register_namespace(URI)
        await self._add_variables(server)
        self.max_per_call = max_per_call
        if max_per_call:
            await server.write_attribute_value(
                ua.NodeId(
                    ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall
                ),
                ua.DataValue(ua.Variant(max_per_call, ua.VariantType.UInt32)),
            )
        self._count_create_calls(server)
        await server.start()
        self.server = server

    async def stop(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None

    def node(self, i: int) -> ua.NodeId:
        return ua.NodeId(f"v{i}", self.ns)

    async def write_all(self, value: float, indexes: range | None = None) -> None:
        """Write `value` (+ index) to every variable in one server-side Write."""
        assert self.server is not None
        params = ua.WriteParameters()
        for i in indexes if indexes is not None else range(self.count):
            params.NodesToWrite.append(
                ua.WriteValue(
                    NodeId=self.node(i),
                    AttributeId=ua.AttributeIds.Value,
                    Value=ua.DataValue(ua.Variant(value + i, ua.VariantType.Double)),
                )
            )
        results = await self.server.iserver.isession.write(params)
        assert all(r.is_good() for r in results)

    async def close_sessions_keep_sockets(self) -> int:
        """Close every client session server-side; the TCP connections stay open."""
        assert self.server is not None
        assert self.server.bserver is not None
        closed = 0
        for protocol in list(self.server.bserver.clients):
            session = protocol.processor.session if protocol.processor is not None else None
            if session is not None:
                await session.close_session(delete_subs=True)
                closed += 1
        return closed

    def stop_answering(self) -> int:
        """Stop reading from every client connection (a hung server or a black-holed link)."""
        assert self.server is not None
        assert self.server.bserver is not None
        paused = 0
        for protocol in list(self.server.bserver.clients):
            if protocol.transport is not None:
                protocol.transport.pause_reading()
                paused += 1
        return paused

    async def _add_variables(self, server: Server) -> None:
        # 100 variables per folder: asyncua checks a parent's references linearly per add.
        objects = ua.NodeId(ua.ObjectIds.ObjectsFolder)
        folders = [
            _add_item(objects, ua.NodeId(f"f{k}", self.ns), f"f{k}", ua.NodeClass.Object)
            for k in range((self.count + 99) // 100)
        ]
        items = [
            _add_item(
                ua.NodeId(f"f{i // 100}", self.ns), self.node(i), f"v{i}", ua.NodeClass.Variable
            )
            for i in range(self.count)
        ]
        results = await server.iserver.isession.add_nodes(folders + items)
        assert all(r.StatusCode.is_good() for r in results), results[0].StatusCode

    def _count_create_calls(self, server: Server) -> None:
        """Record each CreateMonitoredItems call's size; refuse one over the limit as a
        conforming server would (BadTooManyOperations)."""
        service = server.iserver.subscription_service
        original = service.create_monitored_items

        async def create(params: ua.CreateMonitoredItemsParameters) -> Any:
            self.create_calls.append(len(params.ItemsToCreate))
            if self.max_per_call and len(params.ItemsToCreate) > self.max_per_call:
                raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManyOperations)
            return await original(params)

        service.create_monitored_items = create  # type: ignore[method-assign]


def _add_item(parent: ua.NodeId, node: ua.NodeId, name: str, kind: ua.NodeClass) -> ua.AddNodesItem:
    attrs: ua.VariableAttributes | ua.ObjectAttributes
    if kind == ua.NodeClass.Variable:
        access = ua.AccessLevel.CurrentRead.mask | ua.AccessLevel.CurrentWrite.mask
        attrs = ua.VariableAttributes(
            DisplayName=ua.LocalizedText(name),
            Value=ua.Variant(0.0, ua.VariantType.Double),
            DataType=ua.NodeId(ua.ObjectIds.Double),
            ValueRank=-1,
            AccessLevel=access,
            UserAccessLevel=access,
        )
        attrs.SpecifiedAttributes = SPECIFIED
        typedef = ua.NodeId(ua.ObjectIds.BaseDataVariableType)
        reftype = ua.NodeId(ua.ObjectIds.HasComponent)
    else:
        attrs = ua.ObjectAttributes(DisplayName=ua.LocalizedText(name))
        attrs.SpecifiedAttributes = ua.NodeAttributesMask.DisplayName
        typedef = ua.NodeId(ua.Int32(ua.ObjectIds.FolderType))
        reftype = ua.NodeId(ua.ObjectIds.Organizes)
    return ua.AddNodesItem(
        ParentNodeId=parent,
        ReferenceTypeId=reftype,
        RequestedNewNodeId=node,
        BrowseName=ua.QualifiedName(name, node.NamespaceIndex),
        NodeClass=kind,
        NodeAttributes=attrs,
        TypeDefinition=typedef,
    )
