"""`gateway run --workers N` with real processes: real Modbus servers on several endpoints,
real worker processes, a real VictoriaMetrics. Every device's counter tag counts the reads its
server served, so a gap or a repeat in what the database holds is a lost or doubled sample."""

from __future__ import annotations

import asyncio
import os
import signal
import urllib.error
from pathlib import Path

import pytest

from simulators.modbus_server import ModbusServerHandle, start_modbus_server
from tests.e2e.counting import CountingBank, influx_env
from tests.e2e.test_no_data_loss import free_port, get, poll
from tests.processes import start_gateway

pytestmark = pytest.mark.e2e


def plant(
    path: Path,
    servers: list[ModbusServerHandle],
    data: Path,
    extra: str = "",
    port: int = 0,
    influx: bool = True,
) -> Path:
    """Device cell<i> (measurement cell<i>, counter `reads` every 200 ms) on server i; a file
    sink, and InfluxDB from the environment unless `influx` is false."""
    devices = "".join(
        f"""
  - name: cell{i}
    endpoint: {server.endpoint}
    unit_id: 1
    timeout: 5s
    retries: 0
    scan_rate: 200ms
    measurement: cell{i}
    tags:
      - {{name: reads, space: holding_register, address: 0, type: uint32}}
"""
        for i, server in enumerate(servers)
    )
    path.write_text(
        f"""devices:{devices}
sinks:
  flush_interval: 200ms
  {"influxdb: {}" if influx else ""}
  file: {{directory: {data}}}
buffer:
  directory: {data}/buffer
  commit_interval: 0
  drain_timeout: 10s
health: {{port: {port}, stats_interval: 1s}}
{extra}
"""
    )
    return path


def counts(series, device: int) -> list[float]:
    """The counter values of cell<device>, each timestamp once."""
    for s in series:
        if s["metric"]["__name__"] == f"cell{device}_reads":
            return [v for _, v in sorted(set(zip(s["timestamps"], s["values"], strict=True)))]
    return []


def stats_workers(series) -> set[str | None]:
    """The `worker` tags of the gateway_stats series."""
    return {s["metric"].get("worker") for s in series if "gateway_stats" in s["metric"]["__name__"]}


def children(pid: int) -> dict[str, int]:
    """The worker processes of a supervisor: slot ("1/2") -> pid."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"--worker" in argv:
            found[argv[argv.index(b"--worker") + 1].decode()] = int(child)
    return found


def answers(url: str) -> int | None:
    """The status of GET url, None while nothing listens yet."""
    try:
        return get(url)[0]
    except urllib.error.URLError:
        return None


async def servers(count: int) -> tuple[list[CountingBank], list[ModbusServerHandle]]:
    banks = [CountingBank() for _ in range(count)]
    return banks, [await start_modbus_server(bank) for bank in banks]


async def stop(proc, timeout: float = 60) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return err.decode()


async def test_two_workers_write_every_device_and_answer_as_one_gateway(victoria, tmp_path):
    banks, handles = await servers(3)
    port = free_port()
    health = f"http://127.0.0.1:{port}"
    data = tmp_path / "data"
    path = plant(tmp_path / "plant.yaml", handles, data, port=port)
    proc = await start_gateway("run", str(path), "--workers", "2", env=influx_env(victoria))
    try:
        await victoria.wait_for_series_async(
            lambda s: all(len(counts(s, i)) >= 3 for i in range(3)), 60
        )
        _status, text = await poll(lambda: (r := get(f"{health}/readyz"))[0] == 200 and r, 30)
        assert "worker 0: " in text
        assert "worker 1: " in text
        _, metrics = get(f"{health}/metrics")
        for worker in ("0", "1"):
            assert f'gateway_sink_up{{worker="{worker}",sink="influxdb"}} 1' in metrics
            assert f'gateway_worker_up{{worker="{worker}"}} 1' in metrics
        assert sorted(children(proc.pid)) == ["0/2", "1/2"]
        assert metrics.count("# TYPE gateway_device_up gauge") == 1
        assert metrics.count("gateway_device_up{worker=") == 3  # each device once
        for buffer in ("influxdb.sqlite", "worker-1/influxdb.sqlite"):
            assert (data / "buffer" / buffer).exists()  # one buffer file per worker
        assert (data / "gateway.lp").exists()
        assert (data / "gateway-worker1.lp").exists()
        # each worker's own statistics, tagged with its index so they stay distinct
        await victoria.wait_for_series_async(lambda s: stats_workers(s) == {"0", "1"}, 30)
    finally:
        err = await stop(proc)  # SIGTERM: every worker drains
        for handle in handles:
            await handle.stop()
    assert err.count("gateway.runtime.app: Gateway stopped.") == 2
    assert "[worker 1] " in err
    series = await victoria.wait_for_series_async(
        lambda s: all(len(counts(s, i)) >= banks[i].served for i in range(3)), 30
    )
    for i, bank in enumerate(banks):
        assert counts(series, i) == list(range(1, bank.served + 1))  # all of it, once, in order


async def test_a_killed_worker_is_restarted_and_writes_what_its_buffer_held(victoria, tmp_path):
    banks, handles = await servers(2)
    port = free_port()
    health = f"http://127.0.0.1:{port}"
    path = plant(tmp_path / "plant.yaml", handles, tmp_path / "data", port=port)
    proc = await start_gateway("run", str(path), "--workers", "2", env=influx_env(victoria))
    try:
        await victoria.wait_for_series_async(
            lambda s: all(len(counts(s, i)) >= 3 for i in range(2)), 60
        )
        _, metrics = await poll(lambda: (r := get(f"{health}/metrics"))[0] == 200 and r, 30)
        device = 0 if 'gateway_device_up{worker="1",device="cell0"}' in metrics else 1
        assert f'gateway_device_up{{worker="1",device="cell{device}"}}' in metrics
        bank = banks[device]
        victoria.stop()  # the lines of the outage pile up in worker 1's buffer file
        outage = bank.served
        await poll(lambda: bank.served >= outage + 10, 30)
        pid = children(proc.pid)["1/2"]
        os.kill(pid, signal.SIGKILL)
        killed_at = bank.served
        await poll(
            lambda: (
                'gateway_worker_restarts_total{worker="1"} 1' in (m := get(f"{health}/metrics")[1])
                and 'gateway_worker_up{worker="1"} 1' in m
            ),
            60,
        )
        assert children(proc.pid)["1/2"] != pid
        victoria.restart()
        await victoria.wait_for_series_async(lambda s: len(counts(s, device)) >= killed_at + 5, 60)
    finally:
        err = await stop(proc)
        for handle in handles:
            await handle.stop()
    assert "Worker 1 ended unexpectedly (killed by SIGKILL); restarting it in 1 s." in err
    restarted = [ln for ln in err.splitlines() if "[worker 1]" in ln and "from before" in ln]
    assert restarted  # the restarted worker reopened its buffer file, and wrote it first
    served = bank.served
    whole = banks[1 - device].served
    series = await victoria.wait_for_series_async(
        lambda s: (
            served in counts(s, device)
            and len(counts(s, device)) >= served - 1
            and len(counts(s, 1 - device)) >= whole
        ),
        30,
    )
    values = counts(series, device)
    missing = sorted(set(range(1, served + 1)) - set(values))
    assert all(killed_at - 1 <= m <= killed_at for m in missing), (missing, killed_at)
    assert len(missing) <= 1  # at most the read in progress when the worker was killed
    assert len(values) == len(set(values))
    other = counts(series, 1 - device)
    assert other == list(range(1, whole + 1))  # worker 0 never stopped


async def run_briefly(path: Path, *flags: str) -> str:
    proc = await start_gateway("run", str(path), "--duration", "2", *flags)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return err.decode()


async def test_the_flag_overrides_run_workers_and_idle_workers_are_not_started(tmp_path):
    _, handles = await servers(2)
    try:
        data = tmp_path / "data"
        path = plant(tmp_path / "plant.yaml", handles, data, "run: {workers: 2}", influx=False)
        err = await run_briefly(path, "--workers", "1")
        assert "[worker" not in err  # one process, as without workers
        err = await run_briefly(path)  # run.workers: 2
        assert "[worker 0] " in err
        assert "[worker 1] " in err
        err = await run_briefly(path, "--workers", "4")
        assert "4 workers asked for 2 connections: starting 2" in err
        assert "[worker 1] " in err
        assert "[worker 2] " not in err
    finally:
        for handle in handles:
            await handle.stop()


async def test_invalid_workers_are_refused(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_text(
        "devices:\n  - {name: a, endpoint: 'modbus+tcp://127.0.0.1:1', measurement: m}\n"
        "run:\n  workers: 0\n"
    )
    proc = await start_gateway("run", str(path))
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert f"{path}:4 run.workers: " in err.decode()
    proc = await start_gateway("run", str(path), "--workers", "none")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "--workers" in err.decode()


async def test_two_gateways_never_share_a_worker_buffer_file(tmp_path):
    _, handles = await servers(2)
    port = free_port()
    path = plant(tmp_path / "plant.yaml", handles, tmp_path / "data", port=port, influx=False)
    first = await start_gateway("run", str(path), "--workers", "2")
    try:
        await poll(lambda: answers(f"http://127.0.0.1:{port}/readyz") == 200, 30)  # buffers open
        second = await start_gateway("run", str(path), "--workers", "2", "--health-port", "0")
        _, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2, err.decode()
        assert "is in use by another gateway process" in err.decode()
        assert first.returncode is None  # the first one keeps running
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.communicate(), 60)
        for handle in handles:
            await handle.stop()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_a_second_signal_ends_every_worker_at_once(tmp_path):
    """The database is unreachable and the drain would wait an hour: the second SIGTERM ends
    the supervisor and every worker now."""
    _, handles = await servers(2)
    dead = {"INFLUXDB_V2_URL": f"http://127.0.0.1:{free_port()}", "INFLUXDB_V2_ORG": "o"}
    data = tmp_path / "data"
    path = plant(tmp_path / "plant.yaml", handles, data, "", influx=True)
    path.write_text(path.read_text().replace("drain_timeout: 10s", "drain_timeout: 1h"))
    env = {**dead, "INFLUXDB_V2_BUCKET": "b", "INFLUXDB_V2_TOKEN": "t"}
    proc = await start_gateway("run", str(path), "--workers", "2", env=env)
    try:
        assert proc.stderr is not None
        workers: dict[str, int] = {}
        while len(workers) < 2:
            await asyncio.wait_for(proc.stderr.readline(), 30)  # the workers start
            workers = children(proc.pid)
        await asyncio.sleep(1)  # polling another process: let the workers install handlers
        proc.send_signal(signal.SIGTERM)
        while b"a second signal exits at once" not in await asyncio.wait_for(
            proc.stderr.readline(), 30
        ):
            pass
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 30)  # every worker closed stderr too
        assert proc.returncode == 130
        await poll(lambda: not any(alive(pid) for pid in workers.values()), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
        for handle in handles:
            await handle.stop()


async def start_two_workers(path: Path) -> tuple[asyncio.subprocess.Process, dict[str, int]]:
    """`gateway run --workers 2` and the pids of its two workers, once both are started."""
    proc = await start_gateway("run", str(path), "--workers", "2")
    assert proc.stderr is not None
    workers: dict[str, int] = {}
    while len(workers) < 2:
        await asyncio.wait_for(proc.stderr.readline(), 30)
        workers = children(proc.pid)
    return proc, workers


@pytest.mark.parametrize("when", ["running", "starting"])
async def test_workers_stop_when_the_supervisor_is_killed(tmp_path, when):
    """Killed while the workers run, or before they could report (still importing)."""
    _, handles = await servers(2)
    path = plant(tmp_path / "plant.yaml", handles, tmp_path / "data", influx=False)
    proc, workers = await start_two_workers(path)
    try:
        if when == "running":
            await poll(
                lambda: (
                    (data := tmp_path / "data" / "gateway-worker1.lp").exists()
                    and data.stat().st_size > 0
                ),
                30,
            )
        proc.kill()  # SIGKILL: the supervisor cannot pass anything on
        _, err = await asyncio.wait_for(proc.communicate(), 60)  # until the workers are gone
        assert err.decode().count("The supervisor is gone; stopping.") == 2
        assert err.decode().count("gateway.runtime.app: Gateway stopped.") == 2
        await poll(lambda: not any(alive(pid) for pid in workers.values()), 30)
    finally:
        for handle in handles:
            await handle.stop()


async def test_sigterm_to_the_supervisor_and_every_worker_at_once_still_drains(tmp_path):
    """A service manager (systemd's default KillMode) signals every process of the service:
    each worker stops on the first SIGTERM and ignores the one the supervisor passes on."""
    _, handles = await servers(2)
    path = plant(tmp_path / "plant.yaml", handles, tmp_path / "data", influx=False)
    proc, workers = await start_two_workers(path)
    try:
        # both workers past their start (their signal handlers installed): each wrote lines
        await poll(
            lambda: all(
                (lp := tmp_path / "data" / name).exists() and lp.stat().st_size > 0
                for name in ("gateway.lp", "gateway-worker1.lp")
            ),
            30,
        )
        for pid in workers.values():
            os.kill(pid, signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert err.decode().count("gateway.runtime.app: Gateway stopped.") == 2
    finally:
        if proc.returncode is None:
            proc.kill()
        for handle in handles:
            await handle.stop()


async def test_sigterm_with_the_database_down_keeps_each_workers_lines_for_the_next_start(
    victoria, tmp_path
):
    banks, handles = await servers(2)
    path = plant(tmp_path / "plant.yaml", handles, tmp_path / "data")
    path.write_text(path.read_text().replace("drain_timeout: 10s", "drain_timeout: 2s"))
    env = influx_env(victoria)
    try:
        proc = await start_gateway("run", str(path), "--workers", "2", env=env)
        await victoria.wait_for_series_async(
            lambda s: all(len(counts(s, i)) >= 3 for i in range(2)), 60
        )
        victoria.stop()
        await poll(lambda: all(b.served >= 10 for b in banks), 30)
        err = await stop(proc)  # exit 0: what is unwritten is kept in the durable buffers
        assert err.count("kept in the buffer for the next start") == 2  # one per worker
        victoria.restart()
        again = await start_gateway("run", str(path), "--workers", "2", "--duration", "3", env=env)
        _, err2 = await asyncio.wait_for(again.communicate(), 60)
        assert again.returncode == 0, err2.decode()
        assert err2.decode().count("from before; they are written first") == 2
    finally:
        for handle in handles:
            await handle.stop()
    series = await victoria.wait_for_series_async(
        lambda s: all(len(counts(s, i)) >= banks[i].served for i in range(2)), 30
    )
    for i, bank in enumerate(banks):
        assert counts(series, i) == list(range(1, bank.served + 1))
