"""The `gateway` command.

Exit codes: 0 success; 1 the command ran but something failed (a tag read BAD in `once`, data
left unwritten at the end of `run`); 2 invalid configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.collectors import registry
from gateway.collectors.base import ConnectionPlan
from gateway.commandoptions import add_demo_parser, add_once_arguments, add_run_arguments
from gateway.config import LoadedConfig, load_tagmaps
from gateway.errors import ConfigError, GatewayError, Problem
from gateway.model import Sample
from gateway.replay.command import add_parser as add_replay_parser
from gateway.telemetry.logging import configure

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _load(paths: Sequence[str]) -> LoadedConfig:
    """Load the tag maps; their warnings are logged once (`check` prints them instead)."""
    config = load_tagmaps(paths)
    for warning in config.warnings:
        logging.getLogger("gateway.config").warning("%s", warning)
    return config


def cmd_check(args: argparse.Namespace) -> int:
    """Validate tag maps, reporting every problem and warning."""
    config = load_tagmaps(args.paths)
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    tags = sum(len(d.tags) for d in config.devices)
    warned = f", {len(config.warnings)} warning(s)" if config.warnings else ""
    print(
        f"OK: {len(config.devices)} devices, {tags} tags in {len(set(config.origin.values()))}"
        f" files{warned}"
    )
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the compiled plan of every connection, in its protocol's words."""
    for conn in registry.compile_all(_load(args.paths).devices):
        for line in registry.describe(conn):
            print(line)
    return EXIT_OK


def cmd_once(args: argparse.Namespace) -> int:
    """One scan of every device, printed as line protocol."""
    from gateway.clock import SystemClock
    from gateway.model import Quality
    from gateway.oncereport import OnceNotes
    from gateway.pipeline import build_pipeline
    from gateway.sinks.lineprotocol import Precision

    plans = registry.compile_all(_load(args.paths).devices)
    pipeline = build_pipeline(t for p in plans for t in p.tag_plans())

    async def discard(_: object) -> None:
        return None

    down: dict[str, tuple[str, set[str]]] = {}  # connection: why not connected, its devices

    notes = OnceNotes(raw=args.raw)  # raw values, and with --raw what they came from

    async def scan(plan: ConnectionPlan) -> list[Sample]:
        connection = registry.build_collector(plan, discard, SystemClock())
        scanned = notes.watch(plan, connection)
        try:
            samples = await connection.scan_all()
        finally:
            connection.close()
        scanned(samples)
        if samples and all(s.reason.startswith("not connected: ") for s in samples):
            down[plan.name] = (samples[0].reason, {s.point.device for s in samples})
        return samples

    async def scan_everything() -> list[Sample]:
        results = await asyncio.gather(*(scan(p) for p in plans))
        return [s for samples in results for s in samples]

    samples = pipeline.apply(asyncio.run(scan_everything()))
    for line in notes.lines(samples, Precision(args.precision)):
        print(line)
    for hint in notes.hints(samples, plans):  # values that look wrong: how to look closer
        print(hint, file=sys.stderr)
    failed = [s for s in samples if s.quality is Quality.BAD]
    for name, (reason, _) in down.items():  # one line for a port or host that failed
        print(f"BAD {name}: {reason}", file=sys.stderr)
    unreached = {device for _, devices in down.values() for device in devices}
    for line in bad_report([s for s in failed if s.point.device not in unreached]):
        print(line, file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def bad_report(failed: Sequence[Sample], per_tag: int = 3) -> list[str]:
    """One line per BAD tag; a device with more than `per_tag` tags BAD for the same reason
    (a refused login, a dead link) gets one line for them all."""
    groups: dict[tuple[str, str], list[str]] = {}
    for s in failed:
        groups.setdefault((s.point.device, s.reason), []).append(s.point.tag)
    lines = []
    for (device, reason), tags in groups.items():
        if len(tags) > per_tag:
            shown = ", ".join(tags[:per_tag])
            lines.append(f"BAD {device}: {len(tags)} tags ({shown}, ...): {reason}")
        else:
            lines += [f"BAD {device}.{tag}: {reason}" for tag in tags]
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    """Poll and write until SIGINT/SIGTERM or --duration."""
    from gateway.config.models import BufferConfig, RunConfig
    from gateway.runtime.assemble import build_gateway

    config = _load(args.paths)
    drain = args.drain_timeout or (config.buffer or BufferConfig()).drain_timeout
    if args.worker is not None:
        return _run_worker(args, config, drain)
    workers = args.workers or (config.run or RunConfig()).workers
    if workers > 1:
        return _run_supervisor(args, config, drain, workers)
    from gateway.runtime.shards import warn_left_behind

    warn_left_behind((config.buffer or BufferConfig()).directory, [0])
    # The plans are all a running gateway needs of the devices: the validated models (~25 MB
    # per 100,000 tags) go before the collectors are built, which then reuse their memory.
    connections = registry.compile_all(config.devices)
    config = dataclasses.replace(config, devices=())
    gc.collect()

    async def main() -> bool:
        gateway, health = build_gateway(
            config, connections=connections, health_port=args.health_port
        )
        if health is not None:
            await health.start()  # a taken port is an error now, not a retry loop later
        gateway.install_signal_handlers()
        return await gateway.run(args.duration, drain)

    return EXIT_OK if asyncio.run(main()) else EXIT_FAILED


def _run_worker(args: argparse.Namespace, config: LoadedConfig, drain: float) -> int:
    """One worker of `run --workers N` (started by the supervisor, never by hand)."""
    from gateway.runtime.worker import parse_slot, run_worker

    index, count = parse_slot(args.worker)
    ok = asyncio.run(run_worker(config, index, count, args.link_fd, drain))
    return EXIT_OK if ok else EXIT_FAILED


def _run_supervisor(
    args: argparse.Namespace, config: LoadedConfig, drain: float, workers: int
) -> int:
    """`run --workers N`: split the connections, start and watch the workers."""
    from gateway.config.models import BufferConfig, HealthConfig
    from gateway.runtime.shards import assign, digest, started, warn_left_behind
    from gateway.runtime.supervisor import supervise, worker_command

    log = logging.getLogger("gateway.runtime.supervisor")
    plans = registry.compile_all(config.devices)
    shards = assign(plans, config.devices, workers)
    chosen = started(shards)
    if len(chosen) < workers:
        log.warning(
            "%d workers asked for %d connections: starting %d (a connection is read by one "
            "worker).",
            workers,
            len(plans),
            len(chosen),
        )
    for index in chosen:
        tags = sum(1 for plan in shards[index] for _ in plan.tag_plans())
        names = ", ".join(plan.name for plan in shards[index]) or "none"
        log.info("worker %d: %d tags through %s", index, tags, names)
    fingerprint = digest(shards)
    del plans, shards  # each worker compiles its own shard again
    warn_left_behind((config.buffer or BufferConfig()).directory, chosen)
    health = config.health or HealthConfig()
    port = health.port if args.health_port is None else args.health_port
    command = worker_command(args.paths, args.log_level)
    where = (health.listen, port) if port else None
    return asyncio.run(
        supervise(command, chosen, workers, drain, args.duration, where, fingerprint)
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulated plant -> gateway -> default sink, with a live view."""
    from gateway.demo import run_demo

    ok = asyncio.run(
        run_demo(args.duration, args.speed, args.cells, args.scenario, args.data_dir, args.mappings)
    )
    return EXIT_OK if ok else EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"plc-gateway {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default INFO",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("check", cmd_check, "validate tag maps and report every problem"),
        ("plan", cmd_plan, "print the compiled read plan of every connection"),
        ("once", cmd_once, "scan every device once and print line protocol"),
        ("run", cmd_run, "poll and write until stopped"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("paths", nargs="+", metavar="PATH", help="tag-map files or folders")
        p.set_defaults(func=func)
        if name == "once":
            add_once_arguments(p)
        if name == "run":
            add_run_arguments(p)
    add_demo_parser(sub, cmd_demo)
    add_replay_parser(sub)
    for command in registry.commands():  # a protocol's own, e.g. OPC UA's `browse`
        if command.name in sub.choices:
            continue  # the core's commands keep their names
        extra = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(extra)
        extra.set_defaults(func=command.run)
    return parser


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    worker = getattr(args, "worker", None)
    configure(args.log_level, f"worker {worker.partition('/')[0]}" if worker else "")
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for problem in _in_file_order([*exc.problems, *exc.warnings]):
            print(problem, file=sys.stderr)
        warned = f", {len(exc.warnings)} warning(s)" if exc.warnings else ""
        print(f"{len(exc.problems)} problem(s) found{warned}.", file=sys.stderr)
        return EXIT_CONFIG
    except GatewayError as exc:  # e.g. a sink that cannot start: the environment is wrong
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_FAILED
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
