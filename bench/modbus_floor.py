"""The floor of the Modbus benchmark: a bare pymodbus client issuing exactly the reads of the
gateway's plan (the project's own compiler and planner on the same tag map), on the same
schedule or back to back, without decoding the registers or writing anything.

    python -m bench.modbus_floor TAGMAP --warmup W --seconds S [--back-to-back]

One `AsyncModbusTcpClient` and one task per connection, as the gateway has; each task runs its
scans in turn at `start + k * interval` (skipping the slots it missed). After the warm-up it
takes `time.process_time()` (the kernel's CPU accounting of this process, all threads) and
counts the tags served by every answered read until the end; prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient

from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan, compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.config import load_tagmaps

READ = {
    Space.COIL: "read_coils",
    Space.DISCRETE_INPUT: "read_discrete_inputs",
    Space.HOLDING_REGISTER: "read_holding_registers",
    Space.INPUT_REGISTER: "read_input_registers",
}


@dataclass
class Tally:
    counting: bool = False
    samples: int = 0
    scans: int = 0
    requests: int = 0
    errors: int = 0


async def _scan(client: AsyncModbusTcpClient, scan: ScanPlan, tally: Tally) -> None:
    for request in scan.requests:
        response = await getattr(client, READ[request.space])(
            request.start, count=request.count, device_id=scan.unit
        )
        if tally.counting:
            tally.requests += 1
            if response.isError():
                tally.errors += 1
            else:
                tally.samples += len(request.spans)
    if tally.counting:
        tally.scans += 1


async def poll(plan: ConnectionPlan, tally: Tally, stop: float, back_to_back: bool) -> None:
    client = AsyncModbusTcpClient(plan.endpoint.host, port=plan.endpoint.port, timeout=2)
    if not await client.connect():
        raise SystemExit(f"cannot connect to {plan.endpoint}")
    start = time.monotonic()
    due = [start] * len(plan.scans)
    try:
        while (now := time.monotonic()) < stop:
            i = min(range(len(due)), key=due.__getitem__)
            if not back_to_back and due[i] > now:
                await asyncio.sleep(due[i] - now)
                if time.monotonic() >= stop:
                    break
            await _scan(client, plan.scans[i], tally)
            interval = plan.scans[i].interval_s
            due[i] += interval
            if time.monotonic() > due[i]:  # late: skip the missed slots, like the gateway
                due[i] += interval * ((time.monotonic() - due[i]) // interval + 1)
    finally:
        client.close()


async def run(tagmap: str, warmup: float, seconds: float, back_to_back: bool) -> dict[str, float]:
    devices = [d for d in load_tagmaps([tagmap]).devices if isinstance(d, ModbusDevice)]
    plans = compile_connections(devices)
    tally = Tally()
    stop = time.monotonic() + warmup + seconds
    tasks = [asyncio.create_task(poll(p, tally, stop, back_to_back)) for p in plans]
    await asyncio.sleep(warmup)
    tally.counting = True
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*tasks)
    return {
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.monotonic() - wall,
        "samples": tally.samples,
        "scans": tally.scans,
        "requests": tally.requests,
        "errors": tally.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tagmap")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--back-to-back", action="store_true")
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    result = asyncio.run(run(args.tagmap, args.warmup, args.seconds, args.back_to_back))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
