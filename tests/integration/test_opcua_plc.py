"""The simulated plant's OPC UA PLC, used with a plain asyncua client on 127.0.0.1 (port 0).

Servers take about 1.3 s to start (asyncua loads its standard address space), so tests that
read, write setpoints or subscribe share one module-scoped server (their checks compare with
the plant's current values); tests that inject faults, drop sessions or restart get their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from asyncua import Client, Node, ua

from simulators.catalog import CATALOG, CellState, FeedMode, Kind, RectifierState
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc
from simulators.process.plant import Plant

pytestmark = pytest.mark.integration
shared_loop = pytest.mark.asyncio(loop_scope="module")

VARIANT = {  # the data type each catalog kind must have on the wire
    Kind.FLOAT: ua.VariantType.Double,
    Kind.INT: ua.VariantType.UInt32,
    Kind.BOOL: ua.VariantType.Boolean,
    Kind.ENUM: ua.VariantType.Int32,
    Kind.BITS: ua.VariantType.UInt16,
    Kind.TEXT: ua.VariantType.String,
}
PATH = {"rectifier": ["Rectifier"], "cell01": ["Cell01"], "cell01_feeder": ["Cell01", "Feeder"]}
PATH |= {"cell02": ["Cell02"], "cell02_feeder": ["Cell02", "Feeder"]}


def small_plant() -> Plant:
    plant = Plant(cells=2, seed=5)
    for _ in range(30):
        plant.step(1.0)
    return plant


async def started(plant: Plant, devices: list[str] | None = None) -> OpcUaPlc:
    plc = OpcUaPlc(plant, port=0, devices=devices)
    await plc.start()
    return plc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[OpcUaPlc]:
    """A server whose tests only read (and step the plant, then publish)."""
    plc = await started(small_plant())
    yield plc
    await plc.stop()


@pytest.fixture
async def plc() -> AsyncIterator[OpcUaPlc]:
    """A server of its own, for tests that change its state."""
    server = await started(small_plant())
    yield server
    await server.stop()


def sid(plc: OpcUaPlc, ident: str) -> str:
    return f"ns={plc.ns};s=Potline1.{ident}"


def tag_id(plc: OpcUaPlc, device: str, tag: str) -> str:
    return sid(plc, ".".join([*PATH[device], tag]))


async def browse_path(client: Client, ns: int, device: str, tag: str) -> Node:
    path = ["Plant", "Potline1", *PATH[device], tag]
    return await client.nodes.objects.get_child([f"{ns}:{part}" for part in path])


def status_of(dv: ua.DataValue) -> int:
    assert dv.StatusCode is not None
    return int(dv.StatusCode.value)


def value_of(dv: ua.DataValue) -> object:
    return None if dv.Value is None else dv.Value.Value


async def all_node_ids(client: Client, ns: int) -> set[str]:
    """Every node under Objects/Plant (objects, variables, properties, methods)."""
    found: set[str] = set()
    todo = [await client.nodes.objects.get_child(f"{ns}:Plant")]
    while todo:
        node = todo.pop()
        found.add(node.nodeid.to_string())
        todo += await node.get_children(refs=ua.ObjectIds.HierarchicalReferences)
    return found


# ---- address space and values (shared server) ------------------------------------------


@shared_loop
async def test_every_variable_by_node_id_and_browse_path_reads_the_plant_values(shared):
    plant = shared.plant
    plant.step(1.0)
    await shared.publish()
    async with Client(shared.endpoint) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        assert ns == shared.ns
        checked = 0
        for device in plant.device_names():
            truth = plant.values(device)
            tags = CATALOG[plant.kind(device)]
            by_id = [client.get_node(tag_id(shared, device, t.name)) for t in tags]
            by_path = [await browse_path(client, ns, device, t.name) for t in tags]
            assert [n.nodeid for n in by_path] == [n.nodeid for n in by_id]
            for tag, value in zip(tags, await client.read_attributes(by_id), strict=True):
                assert value.StatusCode is not None
                assert value.StatusCode.is_good(), tag
                assert value.Value is not None
                assert value.Value.VariantType == VARIANT[tag.kind], tag
                assert value.Value.Value == truth[tag.name], (device, tag.name)
                checked += 1
            names = {(await n.read_browse_name()).Name for n in by_id}
            assert names == {t.name for t in tags}
        assert checked == 2 * (len(CATALOG["cell"]) + len(CATALOG["feeder"])) + len(
            CATALOG["rectifier"]
        )


@shared_loop
async def test_publish_stamps_changed_nodes_only_with_the_given_time(shared):
    plant = shared.plant
    before = {d: plant.values(d) for d in plant.device_names()}
    plant.step(60.0)
    stamp = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    await shared.publish(now=stamp)
    async with Client(shared.endpoint) as client:
        changed = unchanged = 0
        for device in plant.device_names():
            after = plant.values(device)
            for tag in CATALOG[plant.kind(device)]:
                dv = await client.get_node(tag_id(shared, device, tag.name)).read_data_value()
                if after[tag.name] != before[device][tag.name]:
                    assert dv.SourceTimestamp == stamp, tag.name
                    changed += 1
                else:  # not rewritten: keeps its earlier timestamp
                    assert dv.SourceTimestamp != stamp, tag.name
                    unchanged += 1
        assert changed  # e.g. counters moved
        assert unchanged  # e.g. the product text did not


@shared_loop
async def test_engineering_units_ranges_enums_and_data_types(shared):
    async with Client(shared.endpoint) as client:

        async def prop(device: str, tag: str, name: str):
            return await client.get_node(f"{tag_id(shared, device, tag)}.{name}").read_value()

        eu = await prop("cell01", "bath_temp", "EngineeringUnits")
        assert isinstance(eu, ua.EUInformation)
        assert eu.DisplayName.Text == "degC"
        assert eu.UnitId == 4408652  # UN/CEFACT "CEL"
        assert eu.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
        assert (
            await prop("rectifier", "line_current", "EngineeringUnits")
        ).DisplayName.Text == "kA"
        feeder_eu = await prop("cell02_feeder", "feed_rate_actual", "EngineeringUnits")
        assert feeder_eu.DisplayName.Text == "kg/h"
        eu_node = await client.get_node(tag_id(shared, "cell01", "bath_temp")).get_child(
            "0:EngineeringUnits"
        )  # the standard browse name, found as a gateway would look for it
        assert (await eu_node.read_value()).DisplayName.Text == "degC"
        with pytest.raises(ua.UaStatusCodeError):  # counters carry no unit
            await client.get_node(tag_id(shared, "cell01", "tap_count")).get_child(
                "0:EngineeringUnits"
            )
        eu_range = await prop("cell01", "anode_remaining", "EURange")
        assert (eu_range.Low, eu_range.High) == (0.0, 100.0)
        states = await prop("cell01", "state", "EnumStrings")
        assert [s.Text for s in states] == [s.name for s in CellState]
        state = client.get_node(tag_id(shared, "cell01", "state"))
        assert "2=TAPPING" in str((await state.read_description()).Text)
        for device, tag, datatype in [
            ("cell01", "bath_temp", ua.ObjectIds.Double),
            ("cell01", "tap_count", ua.ObjectIds.UInt32),
            ("cell01", "state", ua.ObjectIds.Int32),
            ("cell01", "alarm_word", ua.ObjectIds.UInt16),
            ("cell01", "tap_request", ua.ObjectIds.Boolean),
            ("cell01", "product", ua.ObjectIds.String),
        ]:
            node = client.get_node(tag_id(shared, device, tag))
            assert (await node.read_data_type()).Identifier == datatype, tag
        writable = client.get_node(tag_id(shared, "rectifier", "line_current_sp"))
        read_only = client.get_node(tag_id(shared, "rectifier", "line_current"))
        assert ua.AccessLevel.CurrentWrite in await writable.get_access_level()
        assert ua.AccessLevel.CurrentWrite not in await read_only.get_access_level()


class Changes:
    """Subscription handler: every data change, for a bounded wait."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []
        self.event = asyncio.Event()

    def datachange_notification(self, node: Node, val: object, data: object) -> None:
        self.seen.append((str(node.nodeid.Identifier), val))
        self.event.set()

    async def wait_for(self, expected: set[tuple[str, object]], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not expected <= set(self.seen):
            self.event.clear()
            left = deadline - time.monotonic()
            assert left > 0, f"missing notifications: {expected - set(self.seen)}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), left)


@shared_loop
async def test_subscription_receives_changes_after_publish(shared):
    plant = shared.plant
    watched = [("rectifier", "energy_total"), ("cell01", "metal_produced_total")]
    watched += [("cell02", "cell_voltage"), ("cell02_feeder", "feed_totalizer")]
    async with Client(shared.endpoint) as client:
        handler = Changes()
        subscription = await client.create_subscription(20, handler)
        nodes = [client.get_node(tag_id(shared, d, t)) for d, t in watched]
        await subscription.subscribe_data_change(nodes)
        initial = {
            (str(n.nodeid.Identifier), plant.values(d)[t])
            for n, (d, t) in zip(nodes, watched, strict=True)
        }
        await handler.wait_for(initial)
        plant.step(120.0)
        await shared.publish()
        after = {
            (str(n.nodeid.Identifier), plant.values(d)[t])
            for n, (d, t) in zip(nodes, watched, strict=True)
        }
        assert after - initial  # the counters moved
        await handler.wait_for(after)


# ---- status codes --------------------------------------------------------------------


async def test_open_thermocouple_serves_bad_sensor_failure_until_cleared(plc):
    plant = plc.plant
    async with Client(plc.endpoint) as client:
        node = client.get_node(tag_id(plc, "cell01", "bath_temp"))
        other = client.get_node(tag_id(plc, "cell02", "bath_temp"))
        plant.inject("thermocouple_open", "cell01")
        plant.step(1.0)
        await plc.publish()
        assert plant.bad("cell01").get("bath_temp") == "BadSensorFailure"
        dv = await node.read_data_value(raise_on_bad_status=False)
        assert status_of(dv) == ua.StatusCodes.BadSensorFailure
        assert value_of(dv) is None  # no number with a Bad status
        with pytest.raises(ua.uaerrors.BadSensorFailure):
            await node.read_value()
        assert status_of(await other.read_data_value()) == ua.StatusCodes.Good  # that cell only
        plant.clear("thermocouple_open", "cell01")
        plant.step(1.0)
        await plc.publish()
        dv = await node.read_data_value()
        assert status_of(dv) == ua.StatusCodes.Good
        assert value_of(dv) == plant.values("cell01")["bath_temp"]
        assert isinstance(value_of(dv), float)


async def test_forced_status_holds_over_publish_and_clears(plc):
    plant = plc.plant
    async with Client(plc.endpoint) as client:
        node = client.get_node(tag_id(plc, "cell01_feeder", "hopper_weight"))
        plc.set_bad_status("cell01_feeder", "hopper_weight", "BadCommunicationError")
        with pytest.raises(ua.uaerrors.BadCommunicationError):
            await node.read_value()
        plant.step(5.0)
        await plc.publish()  # the plant's value does not lift the forced status
        dv = await node.read_data_value(raise_on_bad_status=False)
        assert status_of(dv) == ua.StatusCodes.BadCommunicationError
        plc.set_bad_status("cell01_feeder", "hopper_weight", "UncertainLastUsableValue")
        dv = await node.read_data_value(raise_on_bad_status=False)
        assert status_of(dv) == ua.StatusCodes.UncertainLastUsableValue
        assert value_of(dv) == plant.values("cell01_feeder")["hopper_weight"]  # value kept
        plc.set_bad_status("cell01_feeder", "hopper_weight", None)
        dv = await node.read_data_value()
        assert status_of(dv) == ua.StatusCodes.Good
        assert value_of(dv) == plant.values("cell01_feeder")["hopper_weight"]
    with pytest.raises(ValueError, match="BadNoSuchThing"):
        plc.set_bad_status("cell01", "bath_temp", "BadNoSuchThing")
    with pytest.raises(KeyError):
        plc.set_bad_status("cell01", "no_such_tag", "BadCommunicationError")


# ---- methods and writes ---------------------------------------------------------------


async def test_methods_act_on_the_plant(plc):
    plant = plc.plant
    async with Client(plc.endpoint) as client:
        ns = plc.ns
        potline = client.get_node(f"ns={ns};s=Potline1")
        await client.get_node(sid(plc, "Cell01")).call_method(f"{ns}:Tap")
        assert plant.values("cell01")["state"] == CellState.TAPPING
        await client.get_node(sid(plc, "Cell02")).call_method(f"{ns}:ChangeAnode")
        assert plant.values("cell02")["state"] == CellState.ANODE_CHANGE

        await potline.call_method(f"{ns}:InjectFault", "thermocouple_open", "cell02")
        assert "bath_temp" in plant.bad("cell02")
        await potline.call_method(f"{ns}:ClearFault", "thermocouple_open", "cell02")
        assert "bath_temp" not in plant.bad("cell02")

        await potline.call_method(f"{ns}:InjectFault", "rectifier_trip", "")
        plant.step(1.0)
        assert plant.values("rectifier")["state"] == RectifierState.TRIPPED
        await client.get_node(sid(plc, "Rectifier")).call_method(f"{ns}:Reset")
        plant.step(1.0)
        assert plant.values("rectifier")["state"] != RectifierState.TRIPPED

        with pytest.raises(ua.uaerrors.BadInvalidArgument):
            await potline.call_method(f"{ns}:InjectFault", "no_such_fault", "cell01")
        with pytest.raises(ua.uaerrors.BadInvalidArgument):
            await potline.call_method(f"{ns}:InjectFault", "thermocouple_open", "cell99")
        with pytest.raises(ua.uaerrors.BadArgumentsMissing):
            await potline.call_method(f"{ns}:InjectFault", "thermocouple_open")
        with pytest.raises(ua.uaerrors.BadTypeMismatch):
            await potline.call_method(f"{ns}:InjectFault", 3, "cell01")
        with pytest.raises(ua.uaerrors.BadTooManyArguments):
            await client.get_node(sid(plc, "Cell01")).call_method(f"{ns}:Tap", "now")
        assert (await client.get_node(sid(plc, "Cell01.Feeder")).get_methods()) == []


@shared_loop
async def test_client_writes_reach_the_plant_and_bad_writes_get_a_bad_status(shared):
    plc = shared
    plant = plc.plant
    async with Client(plc.endpoint) as client:
        setpoint = client.get_node(tag_id(plc, "rectifier", "line_current_sp"))
        await setpoint.write_value(5.5, ua.VariantType.Double)
        assert plant.values("rectifier")["line_current_sp"] == pytest.approx(5.5)
        assert await setpoint.read_value() == plant.values("rectifier")["line_current_sp"]

        with pytest.raises(ua.uaerrors.BadOutOfRange):  # the plant refuses a negative current
            await setpoint.write_value(-3.0, ua.VariantType.Double)
        with pytest.raises(ua.uaerrors.BadTypeMismatch):  # Float is not Double
            await setpoint.write_value(4.0, ua.VariantType.Float)
        assert plant.values("rectifier")["line_current_sp"] == pytest.approx(5.5)

        mode = client.get_node(tag_id(plc, "cell01_feeder", "mode"))
        await mode.write_value(int(FeedMode.MANUAL), ua.VariantType.Int32)
        assert plant.values("cell01_feeder")["mode"] == FeedMode.MANUAL
        with pytest.raises(ua.uaerrors.BadOutOfRange):
            await mode.write_value(99, ua.VariantType.Int32)
        assert plant.values("cell01_feeder")["mode"] == FeedMode.MANUAL

        with pytest.raises(ua.uaerrors.BadNotWritable):
            await client.get_node(tag_id(plc, "cell01", "bath_temp")).write_value(
                1.0, ua.VariantType.Double
            )
        await client.get_node(tag_id(plc, "cell01", "tap_request")).write_value(True)
        assert plant.values("cell01")["state"] == CellState.TAPPING


# ---- sessions, restart, subsets ------------------------------------------------------------


async def test_dropped_sessions_are_gone_and_clients_must_reconnect(plc):
    plant = plc.plant
    plain = Client(plc.endpoint)
    await plain.connect()
    resuming = Client(plc.endpoint, auto_reconnect=True)  # tries to re-activate its session
    await resuming.connect()
    try:
        node_id = tag_id(plc, "rectifier", "energy_total")
        handler = Changes()
        subscription = await resuming.create_subscription(20, handler)
        await subscription.subscribe_data_change(resuming.get_node(node_id))
        old_token = resuming.uaclient.session.authentication_token

        await plc.drop_sessions()

        with pytest.raises(ConnectionError):
            await plain.get_node(node_id).read_value()
        deadline = time.monotonic() + 10
        while resuming.uaclient.session.authentication_token == old_token:
            assert time.monotonic() < deadline, "old session re-activated (or no reconnect)"
            await asyncio.sleep(0.02)
        # A new session (the old one could not be re-activated), with its subscription
        # re-created: changes published now still arrive.
        plant.step(120.0)
        await plc.publish()
        await handler.wait_for(
            {("Potline1.Rectifier.energy_total", plant.values("rectifier")["energy_total"])}
        )
        async with Client(plc.endpoint) as fresh:
            assert (
                await fresh.get_node(node_id).read_value()
                == plant.values("rectifier")["energy_total"]
            )
    finally:
        await resuming.disconnect()
        await plain.disconnect()


async def test_restart_serves_the_same_node_ids_on_the_same_port(plc):
    port = plc.port
    async with Client(plc.endpoint) as client:
        before = await all_node_ids(client, plc.ns)
    assert len(before) > 100
    began = time.monotonic()
    await plc.restart(down_for=0.2)
    assert time.monotonic() - began >= 0.2
    assert plc.port == port
    plc.plant.step(1.0)
    await plc.publish()
    async with Client(plc.endpoint) as client:
        assert await client.get_namespace_index(NAMESPACE_URI) == plc.ns
        assert await all_node_ids(client, plc.ns) == before
        node = client.get_node(tag_id(plc, "cell02", "cell_voltage"))
        assert await node.read_value() == plc.plant.values("cell02")["cell_voltage"]


async def test_a_prepared_restart_builds_nothing_at_the_restart_and_serves_current_values(
    plc, monkeypatch
):
    """The build (seconds of CPU on a loaded machine) would stall the plant's loop, and the
    Modbus server on it, at the restart: prepared ahead, the restart only stops and serves."""
    await plc.prepare_restart()
    builds = []
    build = plc._build

    async def counted_build():
        builds.append(1)
        return await build()

    monkeypatch.setattr(plc, "_build", counted_build)
    plc.plant.step(60.0)  # the values move on after the spare was built
    await plc.restart(down_for=0.0)
    assert builds == []
    async with Client(plc.endpoint) as client:
        node = client.get_node(tag_id(plc, "cell02", "cell_voltage"))
        assert await node.read_value() == plc.plant.values("cell02")["cell_voltage"]


async def test_devices_subset_exposes_only_those_devices():
    plant = small_plant()
    with pytest.raises(ValueError, match="cell07"):
        OpcUaPlc(plant, devices=["cell07"])
    plc = await started(plant, devices=["rectifier", "cell02_feeder"])
    try:
        async with Client(plc.endpoint) as client:
            ns = plc.ns
            potline = await client.nodes.objects.get_child([f"{ns}:Plant", f"{ns}:Potline1"])
            children = {(await c.read_browse_name()).Name for c in await potline.get_children()}
            assert children == {"Rectifier", "Cell02", "InjectFault", "ClearFault"}
            cell02 = client.get_node(sid(plc, "Cell02"))
            assert {(await c.read_browse_name()).Name for c in await cell02.get_children()} == {
                "Feeder"
            }  # a bare container: neither the cell's variables nor its methods
            feeder = await browse_path(client, ns, "cell02_feeder", "hopper_weight")
            assert await feeder.read_value() == plant.values("cell02_feeder")["hopper_weight"]
            for device, tag in [("cell01", "bath_temp"), ("cell02", "bath_temp")]:
                with pytest.raises(ua.uaerrors.BadNodeIdUnknown):
                    await client.get_node(tag_id(plc, device, tag)).read_value()
    finally:
        await plc.stop()
