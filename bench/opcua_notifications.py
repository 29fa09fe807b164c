"""CPU per OPC UA data-change notification at 10,000 monitored items.

An asyncua server in a child process (so its CPU is not counted) changes all its variables
every cycle; this process subscribes to all of them twice in turn and measures
`time.process_time()` over a fixed number of notifications:

- baseline: a bare asyncua `Subscription` with a `datachange_notification` handler that only
  stores the value (asyncua 2.x runs one task per notification for it);
- batch: `gateway.collectors.opcua.subscribe` with a handler that stores every
  `(index, DataValue)` of a publish response.

Both include asyncua's decoding of the publish responses.
Run: `python -m bench.opcua_notifications`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from typing import Any

from asyncua import Client, Node, ua

from gateway.collectors.opcua.subscribe import Batch, ItemSpec, subscribe
from tests.uaserver import UaTestServer

COUNT = 10_000
CYCLES = 20  # measured publish cycles of COUNT notifications each
INTERVAL = 200.0  # ms, publishing interval and the server's change period


async def serve(port: int, count: int) -> None:
    server = UaTestServer(count, port)
    await server.start()
    print("ready", server.ns, flush=True)
    value = 0.0
    while True:
        value += count
        await server.write_all(value)
        await asyncio.sleep(INTERVAL / 1000)


class Counter:
    def __init__(self, target: int) -> None:
        self.count = 0
        self.target = target
        self.started: tuple[float, float] | None = None
        self.done = asyncio.Event()
        self.latest: dict[Any, Any] = {}

    def add(self, n: int) -> None:
        if self.started is None:  # the first response (initial values) starts the clock
            self.started = (time.process_time(), time.monotonic())
            return
        self.count += n
        if self.count >= self.target:
            self.done.set()

    def result(self) -> tuple[float, float]:
        assert self.started is not None
        cpu = time.process_time() - self.started[0]
        wall = time.monotonic() - self.started[1]
        return cpu / self.count * 1e6, self.count / wall


class BareHandler:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.counter.latest[node] = val
        self.counter.add(1)


async def measure(url: str, ns: int, batched: bool) -> tuple[float, float]:
    # asyncua 2.x probes the server every `watchdog_intervall` (1 s) with a 1 s timeout; a bare
    # handler runs one task per notification, and 10,000 of them keep its loop busy longer
    # than that, so the probe would time out and drop a healthy session
    client = Client(url, timeout=30, watchdog_intervall=30)
    await client.connect()
    counter = Counter(COUNT * CYCLES)
    nodes = [ua.NodeId(ua.String(f"v{i}"), ua.Int16(ns)) for i in range(COUNT)]
    try:
        if batched:

            def on_data(batch: Batch) -> None:
                latest = counter.latest
                for index, value in batch:
                    latest[index] = value
                counter.add(len(batch))

            items = [ItemSpec(node, 0.0) for node in nodes]
            await subscribe(client, items, INTERVAL, on_data)
        else:
            sub = await client.create_subscription(INTERVAL, BareHandler(counter))
            await sub.subscribe_data_change([client.get_node(n) for n in nodes], queuesize=1)
        await asyncio.wait_for(counter.done.wait(), 600)
        return counter.result()
    finally:
        await client.disconnect()


async def main() -> None:
    server = UaTestServer(0)  # only to pick a port
    cmd = [sys.executable, "-m", "bench.opcua_notifications", "--serve", str(server.port)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        ns = int(ready[1])
        print(f"{COUNT} monitored items, {CYCLES} cycles measured, server in pid {child.pid}")
        results = {}
        for name, batched in (("bare asyncua handler", False), ("batch handler", True)):
            cpu, rate = await measure(server.url, ns, batched)
            results[name] = cpu
            print(f"{name:22} {cpu:6.2f} µs CPU/notification, {rate:9.0f} notifications/s")
        ratio = results["batch handler"] / results["bare asyncua handler"]
        print(f"batch / bare CPU: {ratio:.2f}x")
    finally:
        child.terminate()
        child.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, COUNT))
    else:
        asyncio.run(main())
