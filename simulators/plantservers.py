"""The servers around a plant for `python -m simulators plant` and `replay`: pick the devices
each PLC exposes, apply the command line's faults, start Modbus (TCP, RTU) and OPC UA, run the
plant until its duration or a signal, and stop everything again."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from fnmatch import fnmatch
from typing import Any

from simulators.rtu_args import rtu_config, rtu_summary

log = logging.getLogger("simulators")


def select(plant: Any, globs: str) -> list[str]:
    """Plant devices matching comma-separated shell patterns; ValueError when none do."""
    patterns = [g.strip() for g in globs.split(",") if g.strip()]
    chosen = [d for d in plant.device_names() if any(fnmatch(d, p) for p in patterns)]
    if not chosen:
        raise ValueError(f"no plant device matches {globs!r}")
    return chosen


EXCEPTION_CODES = (1, 2, 3, 4, 5, 6, 8, 10, 11)


def apply_modbus_fault(modbus: Any, spec: str) -> None:
    """`DEVICE:exception=6,delay=0.5,silent` -> that unit's fault switches."""
    device, _, settings = spec.partition(":")
    if device not in modbus.devices:
        raise ValueError(f"--modbus-fault {spec!r}: the Modbus PLC has no device {device!r}")
    faults = modbus.faults(device)
    for item in filter(None, settings.split(",")):
        key, _, value = item.partition("=")
        if key == "exception":
            if not value.isdigit() or int(value) not in EXCEPTION_CODES:
                raise ValueError(
                    f"--modbus-fault {spec!r}: exception must be one of "
                    f"{', '.join(map(str, EXCEPTION_CODES))}"
                )
            faults.exception = int(value)
        elif key == "delay":
            faults.delay = float(value)
        elif key == "silent":
            faults.silent = value.lower() not in ("0", "false", "no")
        else:
            raise ValueError(f"--modbus-fault {spec!r}: unknown setting {key!r}")


def apply_fault(plant: Any, sensors: Any, spec: str) -> None:
    """`--fault KIND[:TARGET]`: a process fault of the plant, or a data-quality fault of what
    the PLCs report (`KIND:DEVICE.TAG,NAME=VALUE,...`); ValueError naming the option."""
    from simulators.sensorfaults import KINDS, parse_spec

    kind, _, target = spec.partition(":")
    try:
        if kind in KINDS:
            kind, target, settings = parse_spec(spec)
            sensors.inject(kind, target, settings, plant.t)
        elif kind in plant.FAULTS:
            plant.inject(kind, target or None)
        else:
            known = ", ".join([*plant.FAULTS, *KINDS])
            raise ValueError(f"unknown fault kind {kind!r} (known: {known})")
    except ValueError as exc:
        raise ValueError(f"--fault {spec!r}: {exc}") from None


async def serve(
    plant: Any, args: argparse.Namespace, scenario: Any = None, sensors: Any = None
) -> None:
    """Start the servers around `plant` and run it until the duration or a signal."""
    from simulators.modbus_plc import ModbusPlc
    from simulators.record import Recorder
    from simulators.runner import PlantRunner

    if args.record_every is not None and not args.record:
        raise ValueError("--record-every needs --record FILE")
    recorder = Recorder(args.record, args.record_every, sensors) if args.record else None
    rtu = rtu_config(args)
    devices = select(plant, args.modbus_devices)
    modbus = ModbusPlc(plant, args.host, args.modbus_port, devices, rtu, sensors)
    for spec in args.modbus_fault:
        apply_modbus_fault(modbus, spec)
    await modbus.start()
    opcua = None
    if not args.no_opcua:
        from simulators.opcua_plc import OpcUaPlc
        from simulators.opcua_security import from_arguments

        devices = select(plant, args.opcua_devices)
        opcua = OpcUaPlc(plant, args.host, args.opcua_port, devices, from_arguments(args), sensors)
        for spec in args.opcua_bad:
            node, _, status = spec.partition("=")
            device, _, tag = node.partition(".")
            try:
                opcua.set_bad_status(device, tag, status or None)
            except KeyError:
                raise ValueError(
                    f"--opcua-bad {spec!r}: no node {node!r} on the OPC UA PLC"
                ) from None
        await opcua.start()
        if scenario is not None and any(
            e.opcua and e.opcua.restart is not None for e in scenario.events
        ):
            await opcua.prepare_restart()  # before clients connect: see prepare_restart
    runner = PlantRunner(
        plant,
        dt=getattr(args, "step", 1.0),
        epoch_ns=getattr(args, "start", None),
        modbus=modbus,
        opcua=opcua,
        speed=args.speed,
        duration=args.duration,
        scenario=scenario,
        recorder=recorder,
        sensors=sensors,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    where = f"Modbus {modbus.endpoint}" + rtu_summary(modbus)
    where += f", OPC UA {opcua.endpoint}" if opcua else ""
    log.info("Plant running: %s, speed %s.", where, args.speed or "max")
    try:
        await runner.run(stop)
    finally:
        if recorder is not None:
            recorder.close()
        await modbus.stop()
        if opcua is not None:
            await opcua.stop()
    log.info("Plant stopped at t=%gs after %d steps.", plant.t, runner.steps)
