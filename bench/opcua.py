"""OPC UA end to end: notifications/s and CPU per notification at 10,000 monitored items at
1 s, through `OpcuaConnection` -> pipeline -> line-protocol encoder, against a bare asyncua
subscription handler in the same run.

An asyncua server in a child process (its CPU is not counted) changes all its variables every
second. This process subscribes to all of them, in turn:

- bare: `client.create_subscription` with a `datachange_notification` handler that only stores
  the value (asyncua's decoding and dispatch, nothing else);
- gateway: the OPC UA collector built from a tag map (`compile_opcua`), its samples through
  `build_pipeline(...).apply` and `encode_lines`, as `gateway run` does before the buffer.

After the initial values (10,000 notifications, not measured) `time.process_time()` is taken
over CYCLES changes of every item; each side runs twice, the best is kept. The figures are
printed and appended to bench/results/opcua.jsonl (bench/results.py).
Run: `python -m bench.opcua [--items N] [--cycles C] [--interval S]` (default 10,000 items,
8 cycles, 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import subprocess
import sys
import time
from typing import Any

from asyncua import Client, Node, ua

from bench import results
from gateway.collectors.opcua.collector import OpcuaConnection
from gateway.collectors.opcua.compile import compile_opcua
from gateway.collectors.opcua.models import OpcuaDevice
from gateway.model import Sample
from gateway.pipeline import build_pipeline
from gateway.sinks.lineprotocol import encode_lines
from tests.uaserver import URI, UaTestServer

COUNT = 10_000
CYCLES = 8  # measured changes of every item
INTERVAL = 1.0  # s: the server's change period and the publishing interval


async def serve(port: int) -> None:
    server = UaTestServer(COUNT, port)
    await server.start()
    print("ready", server.ns, flush=True)
    value = 0.0
    while True:
        value += COUNT
        await server.write_all(value)
        await asyncio.sleep(INTERVAL)


class Counter:
    """Notifications after the first COUNT (the initial values), with CPU and wall time."""

    def __init__(self) -> None:
        self.seen = 0
        self.started: tuple[float, float] | None = None
        self.done = asyncio.Event()

    def add(self, n: int) -> None:
        self.seen += n
        if self.started is None and self.seen >= COUNT:
            self.seen = 0
            self.started = (time.process_time(), time.monotonic())
        elif self.started is not None and self.seen >= COUNT * CYCLES:
            self.done.set()

    def result(self) -> tuple[float, float]:
        """(µs CPU per notification, notifications per s)."""
        assert self.started is not None
        cpu = time.process_time() - self.started[0]
        wall = time.monotonic() - self.started[1]
        return cpu / self.seen * 1e6, self.seen / wall


class BareHandler:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.latest: dict[Node, Any] = {}

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.latest[node] = val
        self.counter.add(1)


async def bare(url: str, ns: int) -> tuple[float, float]:
    counter = Counter()
    # asyncua 2.x probes the server every `watchdog_intervall` (1 s) with a 1 s timeout; a bare
    # handler runs one task per notification, and 10,000 of them keep its loop busy longer
    # than that, so the probe would time out and drop a healthy session
    client = Client(url, timeout=60, watchdog_intervall=30)
    await client.connect()
    try:
        sub = await client.create_subscription(INTERVAL * 1000, BareHandler(counter))
        nodes = [client.get_node(ua.NodeId(f"v{i}", ns)) for i in range(COUNT)]
        await sub.subscribe_data_change(nodes, queuesize=1)
        await asyncio.wait_for(counter.done.wait(), 600)
        result = counter.result()
        await sub.delete()  # else asyncua's publish loop may outlive the disconnect
        return result
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 10)


async def gateway(url: str) -> tuple[float, float]:
    device = OpcuaDevice.model_validate(
        {
            "name": "bench",
            "protocol": "opcua",
            "endpoint": url,
            "measurement": "bench",
            "scan_rate": INTERVAL,
            "sampling_interval": 0,
            "timeout": 60,
            "tags": [{"name": f"v{i}", "node": f"nsu={URI};s=v{i}"} for i in range(COUNT)],
        }
    )
    (plan,) = compile_opcua([device])
    pipeline = build_pipeline(plan.tag_plans())
    counter = Counter()
    encoded = [0]

    async def emit(samples: list[Sample]) -> None:
        encoded[0] += len(encode_lines(pipeline.apply(samples)))
        counter.add(len(samples))

    connection = OpcuaConnection(plan, emit)
    stop = asyncio.Event()
    task = asyncio.create_task(connection.run(stop))
    try:
        await asyncio.wait_for(counter.done.wait(), 600)
        return counter.result()
    finally:
        stop.set()
        await task
        assert encoded[0] > 0, "nothing encoded"
        assert connection.dropped == 0, "notifications dropped: the pipeline fell behind"


async def main() -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # its per-run chatter
    port = UaTestServer(0).port  # only to pick a free port
    cmd = [sys.executable, "-m", "bench.opcua", "--serve", str(port), "--items", str(COUNT)]
    cmd += ["--interval", str(INTERVAL)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        ns = int(child.stdout.readline().split()[1])
        url = f"opc.tcp://127.0.0.1:{port}/"
        print(f"{COUNT} monitored items at {INTERVAL:g} s, {CYCLES} changes measured per run")
        runs: dict[str, list[tuple[float, float]]] = {"bare": [], "gateway": []}
        for _ in range(2):
            runs["bare"].append(await bare(url, ns))
            runs["gateway"].append(await gateway(url))
        best = {name: min(found) for name, found in runs.items()}
        for name, label in (("bare", "bare asyncua handler"), ("gateway", "gateway end to end")):
            cpu, rate = best[name]
            print(f"{label:22} {cpu:6.2f} µs CPU/notification, {rate:8.0f} notifications/s")
        ratio = best["gateway"][0] / best["bare"][0]
        print(f"gateway / bare CPU: {ratio:.2f}x (target: at most 1.5x)")
        write_results(best, ratio)
    finally:
        child.terminate()
        child.wait()


def write_results(best: dict[str, tuple[float, float]], ratio: float) -> None:
    record = {
        "monitored_items": COUNT,
        "cycles": CYCLES,
        "interval_s": INTERVAL,
        **{
            f"{name}_{key}": round(value, 2)
            for name, (cpu, rate) in best.items()
            for key, value in (("us_cpu_per_notification", cpu), ("notifications_per_s", rate))
        },
        "cpu_ratio": round(ratio, 3),
    }
    results.write("opcua", record)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int)
    parser.add_argument("--items", type=int, default=COUNT)
    parser.add_argument("--cycles", type=int, default=CYCLES)
    parser.add_argument("--interval", type=float, default=INTERVAL, help="s between changes")
    args = parser.parse_args()
    COUNT, CYCLES, INTERVAL = args.items, args.cycles, args.interval  # read by the functions
    asyncio.run(serve(args.serve) if args.serve else main())
