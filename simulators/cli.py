"""`python -m simulators`: run the simulated plant, replay a recording, export the tag maps.

python -m simulators plant [--cells N] [--product Nd|PrNd|GdFe[,...]] [--seed S] [--speed X|max]
    [--operators on|off] [--step S]
    [--modbus-port P] [--opcua-port Q] [--scenario FILE|NAME] [--record FILE] [--duration S]
    [--fault KIND[:TARGET]] [--record-every DURATION] [--opcua-security LEVELS] ...
    [--modbus-rtu DEV] [--modbus-rtu-tcp-port P] [--modbus-rtu-baud N] [--modbus-corrupt F] ...
python -m simulators replay FILE [--speed X|max] [--modbus-port P] [--opcua-port Q]
python -m simulators export-mappings [DIR]
python -m simulators compare [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from simulators.argtypes import duration, port, products, speed, step
from simulators.opcua_security import add_arguments as add_security_arguments
from simulators.plantservers import apply_fault, serve
from simulators.rtu_args import add_arguments as add_rtu_arguments
from simulators.scenarionames import bundled_scenario_names


def _start(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _servers_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--modbus-port", type=port, default=5020, help="0 picks a free port")
    p.add_argument("--opcua-port", type=port, default=4840, help="0 picks a free port")
    p.add_argument("--no-opcua", action="store_true", help="do not start the OPC UA server")
    p.add_argument(
        "--modbus-devices",
        default="*",
        metavar="GLOBS",
        help="devices the Modbus PLC exposes, e.g. 'cell??' (default: all)",
    )
    p.add_argument(
        "--opcua-devices",
        default="*",
        metavar="GLOBS",
        help="devices the OPC UA PLC exposes, e.g. 'rectifier,*_feeder' (default: all)",
    )
    p.add_argument(
        "--modbus-fault",
        action="append",
        default=[],
        metavar="DEVICE:SETTINGS",
        help="e.g. cell05:exception=6 or cell03:delay=2 or cell07:silent "
        "(repeatable; applies from the start)",
    )
    add_rtu_arguments(p)
    p.add_argument(
        "--opcua-bad",
        action="append",
        default=[],
        metavar="DEVICE.TAG=STATUS",
        help="force a status on an OPC UA node, e.g. rectifier.oil_temp="
        "BadCommunicationError (repeatable)",
    )
    p.add_argument(
        "--speed", type=speed, default=1.0, help="simulated seconds per wall second, or 'max'"
    )
    p.add_argument(
        "--duration",
        type=duration,
        default=None,
        help="stop after this much SIMULATED time (e.g. 600, 10m)",
    )
    p.add_argument("--record", metavar="FILE", help="write every tag's value and time")
    p.add_argument(
        "--record-every",
        type=duration,
        default=None,
        metavar="DURATION",
        help="thin the record to one line per device per interval of simulated time (e.g. 60s)",
    )
    add_security_arguments(p)
    p.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    plant = sub.add_parser("plant", help="run the simulated plant")
    plant.add_argument("--cells", type=int, default=12)
    plant.add_argument(
        "--product",
        type=products,
        default=["Nd"],
        metavar="Nd|PrNd|GdFe[,...]",
        help="the cells' product; a comma-separated list goes to the cells in turn",
    )
    plant.add_argument("--seed", type=int, default=0)
    plant.add_argument(
        "--operators",
        choices=["on", "off"],
        default="on",
        help="the crew and the temperature loop (tapping, anode changes, raking, kills, "
        "cut-outs); off runs the cells open loop",
    )
    plant.add_argument(
        "--step",
        type=step,
        default=1.0,
        metavar="S",
        help="simulated seconds per step, up to 10 (default 1): 10 makes a long run ~10x "
        "cheaper; the servers and the record move in these steps",
    )
    plant.add_argument(
        "--scenario",
        metavar="FILE|NAME",
        help="a scenario timeline (YAML), or the name of a bundled one: "
        + ", ".join(bundled_scenario_names()),
    )
    plant.add_argument(
        "--start",
        type=_start,
        default=None,
        metavar="ISO8601",
        help="timestamp of simulated time 0 (default: now); with the same "
        "seed and scenario, records are bit-identical",
    )
    plant.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="YAML",
        help="a timed scenario event, e.g. '{at: 2m, modbus: {drop_connections: true}}' or "
        "'{at: 5m, opcua: {restart: 10s}}' (repeatable)",
    )
    plant.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:TARGET]",
        help="inject a process fault (e.g. feeder_jam:cell03_feeder) or a data-quality fault "
        "(e.g. drift:cell01.bath_temp,rate=2) at start (repeatable)",
    )
    _servers_args(plant)
    replay = sub.add_parser("replay", help="serve a recorded run")
    replay.add_argument("file")
    _servers_args(replay)
    compare = sub.add_parser("compare", help="the steady state against published figures")
    compare.add_argument(
        "--write", action="store_true", help="also put the table into simulators/process/README.md"
    )
    export = sub.add_parser("export-mappings", help="write the bundled tag maps")
    export.add_argument("directory", nargs="?", default="mappings")
    export.add_argument("--cells", type=int, default=12)
    return parser


def cmd_plant(args: argparse.Namespace) -> int:
    from simulators.process.plant import Plant
    from simulators.scenario import check_scenario, load_scenario, with_events
    from simulators.scenarionames import find_scenario
    from simulators.sensorfaults import SensorFaults

    plant = Plant(
        cells=args.cells,
        product=[args.product[n % len(args.product)] for n in range(max(args.cells, 0))],
        seed=args.seed,
        operators=args.operators == "on",
        max_step=args.step,
    )
    # the servers publish (lab sample times, source timestamps) before the runner starts
    # (the runner sets it again as it starts the plant's clock: to --start, or to the wall clock
    # then, so that the plant's time does not lag it by the servers' start-up)
    plant.epoch_ns = time.time_ns() if args.start is None else args.start
    sensors = SensorFaults({d: plant.kind(d) for d in plant.device_names()}, args.seed)
    for spec in args.fault:
        apply_fault(plant, sensors, spec)
    scenario = load_scenario(find_scenario(args.scenario)) if args.scenario else None
    if args.event:
        scenario = with_events(scenario, args.event)
    if scenario is not None:
        check_scenario(scenario, plant, args.scenario or "--event")
    asyncio.run(serve(plant, args, scenario, sensors))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from simulators.record import ReplayPlant

    plant = ReplayPlant(args.file)
    if args.duration is None:
        args.duration = plant.duration
    asyncio.run(serve(plant, args))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from simulators.export import write

    for path in write(Path(args.directory), args.cells):
        print(path)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from simulators.process.compare import main as compare

    return compare(write=args.write)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO").upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("pymodbus", "asyncua"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    commands = {"plant": cmd_plant, "replay": cmd_replay, "export-mappings": cmd_export}
    commands["compare"] = cmd_compare
    try:
        return commands[args.command](args)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
