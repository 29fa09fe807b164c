"""An OPC UA server (asyncua) that exposes the simulated potline as a software PLC.

Address space (namespace "urn:plc-gateway:simulator"), string node ids built from the path:

    Objects/Plant/Potline1                        ns=<i>;s=Potline1          InjectFault, ClearFault
    Objects/Plant/Potline1/Rectifier              ns=<i>;s=Potline1.Rectifier        Reset()
    Objects/Plant/Potline1/Cell01                 ns=<i>;s=Potline1.Cell01   Tap(), ChangeAnode()
    Objects/Plant/Potline1/Cell01/Feeder          ns=<i>;s=Potline1.Cell01.Feeder
    .../Cell01/bath_temp                          ns=<i>;s=Potline1.Cell01.bath_temp

One variable per catalog tag (browse name = tag name). The runner steps the plant and calls
`publish()`; only nodes whose value or status changed are written. Client writes to writable
tags go to `plant.write()`; the plant's bad tags and forced statuses are served as StatusCodes.
With `sensors`, the data-quality faults of sensorfaults.py change the values (and, for
clock_skew, the source timestamps) the nodes report. The plant's part of the address space is
built by opcua_plant.py.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AddressSpace, AttributeService

from simulators.catalog import CATALOG, TagDef
from simulators.opcua_faults import drop_client_sessions, status_code
from simulators.opcua_nodes import encode, nid, same_value, sample_time, status_of
from simulators.opcua_plant import PlantModel, PlantVar, add_plant_nodes, plant_vars
from simulators.opcua_plant import device_path as device_path
from simulators.opcua_plant import node_id as node_id
from simulators.opcua_security import PlcSecurity, internal_server
from simulators.opcua_security import apply as apply_security
from simulators.opcua_upkeep import quiet_asyncua, tick_current_time
from simulators.ports import free_port
from simulators.sensorfaults import SensorFaults

NAMESPACE_URI = "urn:plc-gateway:simulator"
APPLICATION_URI = "urn:plc-gateway:simulator:opcua-plc"

log = logging.getLogger(__name__)
_ADMIN = User(role=UserRole.Admin)
_GOOD = status_of(ua.StatusCodes.Good)


class _PlantWrites(AttributeService):
    """Routes Value writes on the plant's variables to `plant.write()`; the rest to asyncua."""

    def __init__(self, aspace: AddressSpace, plc: OpcUaPlc) -> None:
        super().__init__(aspace)
        self._plc = plc

    async def write(self, params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            var = self._plc._var_of(item.NodeId)
            if var is not None and item.AttributeId == ua.AttributeIds.Value:
                results.append(await self._plc._client_write(var, item.Value))
            else:
                results += await super().write(ua.WriteParameters(NodesToWrite=[item]), user)
        return results


class OpcUaPlc:
    """The plant (or some of its devices) as an OPC UA server on host:port (0 = any free)."""

    def __init__(
        self,
        plant: PlantModel,
        host: str = "127.0.0.1",
        port: int = 4840,
        devices: Sequence[str] | None = None,
        security: PlcSecurity | None = None,
        sensors: SensorFaults | None = None,
    ) -> None:
        names = plant.device_names()
        unknown = sorted(set(devices or ()) - set(names))
        if unknown:
            raise ValueError(f"unknown plant devices: {', '.join(unknown)}")
        self.plant = plant
        self.host = host
        self.port = port
        self.devices = [d for d in names if devices is None or d in devices]
        self.security = security or PlcSecurity()
        self.sensors = sensors  # data-quality faults: what the nodes report
        self._vars = plant_vars(plant, self.devices)
        self._forced: dict[str, ua.StatusCode] = {}
        # ident -> (value, status, own sample time) now served
        self._served: dict[str, tuple[object, int, datetime | None]] = {}
        self._server: Server | None = None
        self._spare: Server | None = None  # built ahead for the next restart (prepare_restart)
        self._clock: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stamp: datetime | None = None  # the last source timestamp given to publish()
        self.ns = 0
        quiet_asyncua()

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"opc.tcp://{host}:{self.port}"

    @property
    def server(self) -> Server:
        """The running asyncua server (for tests that need to look inside)."""
        if self._server is None:
            raise RuntimeError("the OPC UA server is not running")
        return self._server

    async def start(self) -> None:
        """Build the address space and listen. Port 0 picks a free port (kept on restart)."""
        if self._server is not None:
            raise RuntimeError("already started")
        await self._serve(await self._build(), pick=self.port == 0, attempts=20)

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._clock] if self._clock else [])]:
            task.cancel()
        await asyncio.gather(
            *self._tasks, *([self._clock] if self._clock else []), return_exceptions=True
        )
        self._clock = None
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    async def prepare_restart(self) -> None:
        """Build the next restart's address space now: the build takes seconds of CPU on a
        loaded machine (asyncua's standard address space first), and at the restart it would
        stall the plant's loop, the Modbus server on it and the old OPC UA server's answers
        before the outage even begins. Call it before clients connect (the plant does when
        its scenario restarts the OPC UA server)."""
        if self._spare is None:
            self._spare = await self._build()

    async def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay down `down_for` s, serve again on the same port with the same node ids.
        Sessions and subscriptions are lost, as on a real restart. The new address space is
        the one `prepare_restart` built, else built before the old server stops, so the
        outage lasts about `down_for`."""
        new, self._spare = self._spare or await self._build(), None
        await self.stop()
        await asyncio.sleep(down_for)
        await self._serve(new, pick=self.port == 0, attempts=50)

    async def _serve(self, server: Server, pick: bool, attempts: int) -> None:
        for attempt in range(attempts):
            if pick:
                self.port = free_port(self.host)
            server.set_endpoint(self.endpoint)
            try:
                await server.start()
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                log.info("port %d in use, retrying", self.port)
                await asyncio.sleep(0 if pick else 0.05)
                server = await self._build()  # a failed start leaves asyncua half torn down
        self._server = server
        self._served.clear()
        self._clock = asyncio.create_task(tick_current_time(server))
        await self._publish(self.devices, self._stamp or self._plant_time())

    def _plant_time(self) -> datetime | None:
        """The plant's instant as a timestamp, once its epoch is known (the CLI sets it before
        the servers start): the first publish is then stamped like the runner's, so a value
        frozen at the start keeps the plant's start time, not the wall clock's."""
        epoch = getattr(self.plant, "epoch_ns", None)
        if epoch is None:
            return None
        return datetime.fromtimestamp((epoch + round(self.plant.t * 1e9)) / 1e9, UTC)

    async def _build(self) -> Server:
        server = Server(iserver=internal_server(self.security))
        await server.init()
        server.disable_clock()  # its clock task makes stop() wait up to 1 s; see _tick_current_time
        server.set_server_name("plc-gateway simulated PLC")
        await server.set_application_uri(APPLICATION_URI)
        await apply_security(server, self.security, APPLICATION_URI, self.host)
        server.iserver.attribute_service = _PlantWrites(server.iserver.aspace, self)
        self.ns = await server.register_namespace(NAMESPACE_URI)
        await add_plant_nodes(server, self.plant, self.devices, self._vars, self.ns)
        return server

    # ---- publishing ------------------------------------------------------------------

    async def publish(self, now: datetime | None = None) -> None:
        """Copy the plant's values and bad tags into the variables. `now` (e.g. derived from
        plant time) becomes the source timestamp; default: the wall clock (UTC)."""
        if now is not None:  # naive datetimes are taken as UTC
            self._stamp = now if now.tzinfo else now.replace(tzinfo=UTC)
        await self._publish(self.devices, self._stamp if now is not None else None)

    async def _publish(self, devices: Sequence[str], stamp: datetime | None) -> None:
        if self._server is None:
            return
        server = self._server
        wall = datetime.now(UTC)
        sensors, t = self.sensors, self.plant.t
        for device in devices:
            values, bad = self.plant.values(device), self.plant.bad(device)
            source, skew = stamp or wall, timedelta(0)
            if sensors is not None:
                values = sensors.reported(device, values, t)
                skew = timedelta(seconds=sensors.clock_offset(device, t))
                source += skew
            for tag in CATALOG[self.plant.kind(device)]:
                var = self._vars[node_id(device, tag.name)]
                value = encode(tag.kind, values[tag.name])
                status = self._forced.get(var.ident) or (
                    status_code(bad[tag.name]) if tag.name in bad else _GOOD
                )
                own = sample_time(tag, values)  # a lab result: when its sample was taken
                served = self._served.get(var.ident)
                now_served = (value, status.value, own)
                if served is not None and self._unchanged(served, now_served, device, tag, t):
                    continue
                self._served[var.ident] = now_served
                datavalue = ua.DataValue(
                    ua.Variant(value, var.vtype),
                    status,
                    SourceTimestamp=cast(ua.DateTime, own + skew if own else source),
                    ServerTimestamp=cast(ua.DateTime, wall),
                )
                await server.write_attribute_value(nid(var.ident, self.ns), datavalue)

    def _unchanged(
        self,
        served: tuple[object, int, datetime | None],
        now: tuple[object, int, datetime | None],
        device: str,
        tag: TagDef,
        t: float,
    ) -> bool:
        """Whether the node keeps what it serves (and its source timestamp): a value, status
        and own sample time that did not change, as a frozen one (sensorfaults.py); but a
        stuck sensor's constant reading is re-stamped at every publish, and a lab result whose
        sample time moved (a new sample with the same result, the plant's epoch set) too."""
        if self.sensors is not None and self.sensors.stuck(device, tag.name, t):
            return False
        return served[1:] == now[1:] and same_value(served[0], now[0])

    # ---- faults ----------------------------------------------------------------------

    def set_bad_status(self, device: str, tag: str, status: str | None) -> None:
        """Serve `status` (any StatusCode name; Bad* ones carry no value) on a node until it is
        cleared with None. Applied at once when the server runs, and kept over publish()."""
        ident = node_id(device, tag)
        if ident not in self._vars:
            raise KeyError(f"{device}.{tag} is not exposed by this server")
        if status is None:
            self._forced.pop(ident, None)
        else:
            self._forced[ident] = status_code(status)
        self._soon(self._publish([device], self._stamp))

    async def drop_sessions(self) -> None:
        """Close every client session and connection; clients have to reconnect."""
        await drop_client_sessions(self.server)

    # ---- client requests ---------------------------------------------------------------

    def _var_of(self, nodeid: ua.NodeId) -> PlantVar | None:
        if nodeid.NamespaceIndex != self.ns or not isinstance(nodeid.Identifier, str):
            return None
        return self._vars.get(nodeid.Identifier)

    async def _client_write(self, var: PlantVar, datavalue: ua.DataValue) -> ua.StatusCode:
        if not var.tag.writable:
            return status_of(ua.StatusCodes.BadNotWritable)
        variant = datavalue.Value
        if variant is None or variant.VariantType != var.vtype:
            return status_of(ua.StatusCodes.BadTypeMismatch)
        try:
            self.plant.write(var.device, var.tag.name, variant.Value)
        except (ValueError, TypeError, KeyError) as exc:
            log.info("write %s = %r refused: %s", var.ident, variant.Value, exc)
            return status_of(ua.StatusCodes.BadOutOfRange)
        await self._publish([var.device], self._stamp)  # the client reads back what it wrote
        return _GOOD

    def _soon(self, job: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(job)
        except RuntimeError:  # no running loop: the next publish() applies it
            job.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
