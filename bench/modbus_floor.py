"""The floor of the Modbus benchmark: a bare pymodbus client issuing exactly the reads of the
gateway's plan (the project's own compiler and planner on the same tag map), on the same
schedule or back to back, without decoding the registers or writing anything.

    python -m bench.modbus_floor TAGMAP --warmup W --seconds S [--back-to-back]

One `AsyncModbusTcpClient` and one task per connection, as the gateway has; each task runs its
scans in turn on the gateway's own schedule: the phase the gateway gives each scan
(`gateway.collectors.schedule.phases`), then every interval (skipping the slots it missed),
so both wake up as often and send the same reads at the same moments. After the warm-up it
takes `time.process_time()` (the kernel's CPU accounting of this process, all threads) and
counts the tags served by every answered read until the end, and stamps each scan's first
response on arrival (as the gateway stamps its samples) for the same jitter figure as the
gateway's (bench/dbprobe.py); prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient

from bench.dbprobe import lateness_ms, percentile
from gateway.clock import SystemClock
from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan, compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.collectors.schedule import next_slot, phases
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
    first_ms: dict[str, list[int]] = field(default_factory=dict)  # device -> scan start times


async def _scan(client: AsyncModbusTcpClient, scan: ScanPlan, tally: Tally) -> None:
    for n, request in enumerate(scan.requests):
        response = await getattr(client, READ[request.space])(
            request.start, count=request.count, device_id=scan.unit
        )
        if n == 0 and tally.counting:  # stamped on arrival, as the gateway stamps its samples
            tally.first_ms.setdefault(scan.device, []).append(round(time.time() * 1000))
        if tally.counting:
            tally.requests += 1
            if response.isError():
                tally.errors += 1
            else:
                tally.samples += len(request.spans)
    if tally.counting:
        tally.scans += 1


async def poll(
    plan: ConnectionPlan, tally: Tally, start: float, stop: float, back_to_back: bool
) -> None:
    client = AsyncModbusTcpClient(plan.endpoint.host, port=plan.endpoint.port, timeout=2)
    if not await client.connect():
        raise SystemExit(f"cannot connect to {plan.endpoint}")
    due = [start] * len(plan.scans)
    if not back_to_back:  # the gateway's phases (its first, prompt scan aside)
        phase = phases(str(plan.endpoint), ((s.device, s.interval_s) for s in plan.scans))
        clock = SystemClock()
        due = [next_slot(clock, s.interval_s, phase[s.device, s.interval_s]) for s in plan.scans]
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
    start = time.monotonic()
    if not back_to_back:  # count from half an interval after a due time: whole scans only
        interval = min(scan.interval_s for plan in plans for scan in plan.scans)
        warmup = (math.ceil(warmup / interval) + 0.5) * interval
    stop = start + warmup + seconds
    tasks = [asyncio.create_task(poll(p, tally, start, stop, back_to_back)) for p in plans]
    await asyncio.sleep(start + warmup - time.monotonic())
    tally.counting = True
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*tasks)
    groups = {device: i for i, device in enumerate(tally.first_ms)}
    late = lateness_ms(tally.first_ms, groups, plans[0].scans[0].interval_s)
    return {
        "cpu_s": time.process_time() - cpu,
        "wall_s": stop - wall,  # the window; the tasks may sleep past it before they end
        "samples": tally.samples,
        "scans": tally.scans,
        "requests": tally.requests,
        "errors": tally.errors,
        "jitter_p50_ms": percentile(late, 50),
        "jitter_p99_ms": percentile(late, 99),
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
