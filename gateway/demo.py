"""`gateway demo`: the simulated plant and the gateway in one process, with a live view.

The plant runs faster than real time (default 30 times) with the anode-effect-storm scenario, its
Modbus and OPC UA PLCs listen on free local ports, and the gateway reads them through the
bundled tag maps (`mappings/` of a source checkout, else the image's /etc/plc-gateway/mappings,
else `--mappings DIR`): the cells over Modbus, the feeders and the rectifier over OPC UA.
Data goes to InfluxDB when INFLUXDB_V2_URL is set, otherwise to a line-protocol file of its own
per run, ./data/demo-YYYYmmddTHHMMSS.lp (the start in UTC). The buffer (./data/buffer) is
shared: lines a killed run left in it are written into the next run's file, never dropped
(the few the killed run had already written are then in both files).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.config import load_tagmaps
from gateway.config.models import BufferConfig, DeviceFields, FileSinkConfig, SinksConfig
from gateway.errors import GatewayError
from gateway.runtime.app import Gateway
from gateway.runtime.assemble import build_gateway
from gateway.runtime.sinkset import ENV, build_sinks
from gateway.sinks.base import Sink
from gateway.telemetry.alarmbits import alarm_bits_from_maps
from gateway.telemetry.liveview import (
    LiveView,
    MeasurementView,
    columns_from_maps,
    units_from_maps,
)
from gateway.telemetry.logpane import LogPane, logs_into
from simulators.scenarionames import BUNDLED_SCENARIOS, find_scenario

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = BUNDLED_SCENARIOS / "anode-effect-storm.yaml"
#: the bundled maps: a source checkout's, else the container image's (a wheel has none)
SOURCE_MAPPINGS = REPO / "mappings"
IMAGE_MAPPINGS = Path("/etc/plc-gateway/mappings")
DEFAULT_MAPPINGS = (SOURCE_MAPPINGS, IMAGE_MAPPINGS)

#: how the live view shows the simulated plant's measurements (other devices: their first tags)
PLANT_VIEW = {
    "cell": MeasurementView(
        values=(
            ("cell_voltage", "{:6.2f}"),
            ("bath_temp", "{:7.1f}"),
            ("oxide_conc", "{:5.2f}"),
            ("metal_in_receiver", "{:6.1f}"),
        ),
        state_tag="state",
        states=("RUN", "FEEDING", "TAPPING", "ANODE_CHANGE", "ANODE_EFFECT", "CUT_OUT", "SHUTDOWN"),
        alarm_tag="alarm_word",
        alarm_states=frozenset({"ANODE_EFFECT"}),
    ),
    "feeder": MeasurementView(
        values=(
            ("hopper_level", "{:5.1f}"),
            ("feed_rate_actual", "{:5.2f}"),
            ("screw_motor_current", "{:5.2f}"),
        ),
        state_tag="mode",
        states=("AUTO_TIMER", "AUTO_RESISTANCE", "MANUAL", "OFF"),
        alarm_tag="alarms",
    ),
    "rectifier": MeasurementView(
        values=(
            ("line_current", "{:6.3f}"),
            ("line_voltage", "{:6.1f}"),
            ("dc_power", "{:7.1f}"),
        ),
        state_tag="state",
        states=("OFF", "RAMP", "REGULATING", "LIMIT", "TRIPPED"),
        alarm_tag="alarms",
        alarm_states=frozenset({"TRIPPED", "LIMIT"}),
    ),
}


class MappingsNotFound(GatewayError):
    """No folder with the bundled tag maps; str() is the one line for the user."""


def find_mappings(path: str | None, defaults: Sequence[Path] = DEFAULT_MAPPINGS) -> Path:
    """The tag maps: the given folder, else the first of `defaults` holding plant.yaml (the
    source tree's mappings/, then the image's); MappingsNotFound saying to pass --mappings."""
    advice = "pass --mappings DIR with the folder of the simulated plant's maps"
    if path is not None:
        if Path(path, "plant.yaml").is_file():
            return Path(path)
        raise MappingsNotFound(f"{path}: no plant.yaml (the bundled tag maps): {advice}")
    for candidate in defaults:
        if Path(candidate, "plant.yaml").is_file():
            return Path(candidate)
    looked = " or ".join(str(d) for d in defaults)
    raise MappingsNotFound(f"no bundled tag maps (plant.yaml) in {looked}: {advice}")


class BadScenario(GatewayError):
    """The scenario is neither a file nor a bundled name, or does not load; str() says why."""


def demo_scenario(text: str | None) -> Path:
    """The scenario file: the default storm, a file, or a bundled scenario's name."""
    try:
        return DEFAULT_SCENARIO if text is None else find_scenario(text)
    except ValueError as exc:  # the one line listing the bundled names
        raise BadScenario(str(exc)) from None


def on_wall_clock(device: DeviceFields) -> DeviceFields:
    """The device with OPC UA samples stamped when received: the plant's clock (the PLC's
    source timestamps) runs `speed` times faster than the wall clock, the Modbus samples are
    stamped on receipt, and both should line up in the database."""
    field = type(device).model_fields.get("timestamp")  # the protocols that stamp samples
    if field is None or field.annotation is None:
        return device
    return device.model_copy(update={"timestamp": field.annotation("gateway")})


def run_file_prefix(started: datetime.datetime) -> str:
    """The name (without .lp) of one run's data file: every run writes a file of its own."""
    return f"demo-{started.astimezone(datetime.UTC):%Y%m%dT%H%M%S}"


def sinks_for_demo(data_dir: str, prefix: str) -> tuple[list[Sink], str]:
    """InfluxDB when INFLUXDB_V2_URL is set, else the file `data_dir`/`prefix`.lp."""
    if os.environ.get(ENV["url"]):
        return build_sinks(None), f"InfluxDB at {os.environ[ENV['url']]}"
    config = SinksConfig(file=FileSinkConfig(directory=data_dir, prefix=prefix))
    return build_sinks(config), str(Path(data_dir, f"{prefix}.lp"))


def plant_clock(seconds: float) -> str:
    """Plant time as h:mm:ss."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


async def run_demo(
    duration: float | None,
    speed: float = 30.0,
    cells: int = 12,
    scenario: str | None = None,
    data_dir: str = "data",
    mappings: str | None = None,
    refresh: float = 1.0,
) -> bool:
    """Run plant and gateway until `duration` wall seconds or Ctrl-C; True if all written."""
    from simulators.modbus_plc import ModbusPlc
    from simulators.opcua_plc import OpcUaPlc
    from simulators.process.plant import Plant
    from simulators.runner import PlantRunner
    from simulators.scenario import load_scenario

    # before anything starts: a missing folder or scenario is one line
    maps = find_mappings(mappings)
    try:
        timeline = load_scenario(demo_scenario(scenario))
    except ValueError as exc:  # a file that does not load: named, with the field
        raise BadScenario(str(exc)) from None
    # the PLCs take a few seconds to start; say what is coming
    print(
        "plc-gateway demo: starting the simulated plant and the gateway (Ctrl-C stops)", flush=True
    )
    plant = Plant(cells=cells, seed=0)
    wanted = set(plant.device_names())
    # which devices the maps read over OPC UA: the OPC UA PLC serves only those (it writes
    # every changed node at each of the 30 steps a second; the rest would be wasted work)
    by_default = {k: v for k, v in os.environ.items() if not k.startswith("PLANT_")}
    over_opcua = [
        d.name
        for d in load_tagmaps([maps], env=by_default).devices
        if d.protocol == "opcua" and d.name in wanted
    ]
    modbus = ModbusPlc(plant, "127.0.0.1", 0)
    opcua = OpcUaPlc(plant, "127.0.0.1", 0, over_opcua) if over_opcua else None
    await modbus.start()
    if opcua is not None:
        await opcua.start()
    env = {
        **os.environ,
        "PLANT_HOST": "127.0.0.1",
        "PLANT_MODBUS_PORT": str(modbus.port),
        "PLANT_OPCUA_PORT": str(opcua.port if opcua else 0),
    }
    config = load_tagmaps([maps], env=env)
    config = dataclasses.replace(
        config,
        devices=tuple(on_wall_clock(d) for d in config.devices if d.name in wanted),
        buffer=BufferConfig(directory=str(Path(data_dir) / "buffer")),
    )
    sinks, where = sinks_for_demo(data_dir, run_file_prefix(datetime.datetime.now(datetime.UTC)))
    runner = PlantRunner(
        plant,
        modbus=modbus,
        opcua=opcua,
        speed=speed,
        scenario=timeline,
    )
    gateway: Gateway | None = None

    def status() -> str:
        written = sum(f.stats.written for f in gateway.forwarders) if gateway else 0
        backlog = sum(f.buffer.stats.depth for f in gateway.forwarders) if gateway else 0
        return (
            f"plant time {plant_clock(plant.t)} (x{speed:g})   to {where}: {written} lines "
            f"written, {backlog} waiting"
        )

    pane = LogPane()
    view = LiveView(
        "plc-gateway demo",
        status=status,
        layouts=PLANT_VIEW,
        columns=columns_from_maps(config.devices),
        units=units_from_maps(config.devices),
        alarm_bits=alarm_bits_from_maps(config.devices),
        recent_log=pane.latest,
    )
    # on a terminal the view clears the screen every second: the log goes into the view
    on_terminal = view.tty and sys.stderr.isatty()
    with logs_into(pane, sys.stderr) if on_terminal else contextlib.nullcontext():
        gateway, _ = build_gateway(config, sinks=sinks, observers=[view.observe], health_port=0)
        stop_plant = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, gateway.stop)
        plant_task = asyncio.create_task(runner.run(stop_plant))
        view_task = asyncio.create_task(_redraw(view, refresh))
        try:
            ok = await gateway.run(duration)
        finally:
            stop_plant.set()
            view_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await view_task
            await plant_task
            await modbus.stop()
            if opcua is not None:
                await opcua.stop()
        view.draw(final=True)
    return ok


async def _redraw(view: LiveView, every: float) -> None:
    while True:
        await asyncio.sleep(every if view.tty else max(every, 5.0))
        view.draw()
