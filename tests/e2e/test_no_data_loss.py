"""Zero data loss with real processes and a real database: a database outage, a SIGKILL of the
gateway, a SIGTERM while the database is down; health and metrics while it happens."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from simulators.modbus_server import start_modbus_server
from simulators.ports import free_port
from tests.e2e.counting import CountingBank, counter, influx_env, tag_map
from tests.processes import ROOT, start_gateway
from tests.vmserver import by_name

pytestmark = pytest.mark.e2e


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def poll(check, timeout: float):
    """Await check() (a blocking call run in a thread) until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := await asyncio.to_thread(check)):
        assert loop.time() < deadline, f"condition not met within {timeout}s"
        await asyncio.sleep(0.2)  # polling another process
    return result


async def stop_gateway(proc, timeout: float = 30) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return err.decode()


async def test_database_outage_loses_nothing_and_health_tells(victoria, tmp_path):
    bank = CountingBank()
    server = await start_modbus_server(bank)
    port = free_port()
    health = f"http://127.0.0.1:{port}"
    path = tag_map(
        tmp_path / "plant.yaml",
        server.endpoint,
        tmp_path / "data",
        health=f"{{port: {port}, stats_interval: 1s}}",
    )
    proc = await start_gateway("run", str(path), env=influx_env(victoria))
    try:
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= 5, 30)
        assert (await poll(lambda: get(f"{health}/readyz"), 10))[0] == 200
        victoria.stop()  # the database goes away for a while; the gateway keeps polling
        outage_start = bank.served
        _, text = await poll(lambda: (r := get(f"{health}/readyz"))[0] == 503 and r, 30)
        assert "sink not writing: influxdb (" in text
        await poll(lambda: bank.served >= outage_start + 10, 30)  # 2 s of data piles up
        _, metrics = get(f"{health}/metrics")
        assert 'gateway_sink_up{sink="influxdb"} 0' in metrics
        assert 'gateway_device_up{device="cell07"} 1' in metrics
        depth = [
            ln
            for ln in metrics.splitlines()
            if ln.startswith('gateway_buffer_lines{sink="influxdb"}')
        ]
        assert int(depth[0].split()[-1]) >= 5  # the backlog is held in the buffer
        victoria.restart()
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= outage_start + 10, 60)
    finally:
        err = await stop_gateway(proc)
        await server.stop()
    served = bank.served
    series = await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= served, 30)
    values, stamps = counter(series)
    assert values == list(range(1, served + 1))  # every sample, in order, none twice
    assert stamps == sorted(set(stamps))
    assert "Sink influxdb write failed" in err  # logged once, when the outage began
    assert err.count("Sink influxdb write failed") == 1
    stats = by_name(series)
    assert "gateway_stats_device_scans_total" in stats  # the gateway's own measurement


async def test_sigkill_and_restart_resume_from_the_buffer(victoria, tmp_path):
    """commit_interval 0: every scan is committed before the next starts, so a SIGKILL loses
    at most the scan in progress. The data held while the database was down is written after
    the restart."""
    bank = CountingBank()
    server = await start_modbus_server(bank)
    path = tag_map(tmp_path / "plant.yaml", server.endpoint, tmp_path / "data", commit_interval="0")
    env = influx_env(victoria)
    try:
        first = await start_gateway("run", str(path), env=env)
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= 3, 30)
        victoria.stop()
        await poll(lambda: bank.served >= 15, 30)
        first.kill()  # SIGKILL: no shutdown code runs
        await first.wait()
        killed_at = bank.served
        victoria.restart()
        second = await start_gateway("run", str(path), env=env)
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= killed_at + 5, 60)
        await stop_gateway(second)
    finally:
        await server.stop()
    served = bank.served
    series = await victoria.wait_for_series_async(  # the newest value visible, and all but one
        lambda s: served in counter(s)[0] and len(counter(s)[0]) >= served - 1, 30
    )
    values, _ = counter(series)
    missing = sorted(set(range(1, served + 1)) - set(values))
    assert len(missing) <= 1  # at most the read in progress when the process was killed
    assert all(killed_at - 1 <= m <= killed_at for m in missing), (missing, killed_at, served)
    assert len(values) == len(set(values))  # nothing twice
    assert values == sorted(values)


async def test_sigterm_with_the_database_down_exits_within_the_drain_timeout(victoria, tmp_path):
    bank = CountingBank()
    server = await start_modbus_server(bank)
    path = tag_map(tmp_path / "plant.yaml", server.endpoint, tmp_path / "data", drain_timeout="2s")
    env = influx_env(victoria)
    try:
        proc = await start_gateway("run", str(path), env=env)
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= 3, 30)
        victoria.stop()
        await poll(lambda: bank.served >= 10, 30)
        # bounded: a drain that ignored its 2 s timeout would retry the dead database forever
        err = await stop_gateway(proc, timeout=30)  # exit code 0 is asserted inside
        stopped_at = bank.served
        assert "kept in the buffer for the next start" in err
        victoria.restart()
        again = await start_gateway("run", str(path), "--duration", "2", env=env)
        _, err2 = await asyncio.wait_for(again.communicate(), 60)
        assert again.returncode == 0, err2.decode()
        assert "from before; they are written first" in err2.decode()
    finally:
        await server.stop()
    served = bank.served
    series = await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= served, 30)
    assert counter(series)[0] == list(range(1, served + 1))
    assert stopped_at < served


async def test_a_second_signal_exits_at_once_keeping_committed_data(victoria, tmp_path):
    bank = CountingBank()
    server = await start_modbus_server(bank)
    path = tag_map(tmp_path / "plant.yaml", server.endpoint, tmp_path / "data", drain_timeout="1h")
    env = influx_env(victoria)
    try:
        proc = await start_gateway("run", str(path), env=env)
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= 3, 30)
        victoria.stop()  # the drain would now wait for up to an hour
        await poll(lambda: bank.served >= 25, 30)
        assert proc.stderr is not None
        proc.send_signal(signal.SIGTERM)
        while b"a second signal exits at once" not in await asyncio.wait_for(
            proc.stderr.readline(), 30
        ):
            pass
        killed_ns = time.time_ns()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode == 130
        victoria.restart()
        again = await start_gateway("run", str(path), "--duration", "2", env=env)
        _, err = await asyncio.wait_for(again.communicate(), 60)
        assert again.returncode == 0, err.decode()
    finally:
        await server.stop()
    values, _ = counter(
        await victoria.wait_for_series_async(lambda s: bank.served in counter(s)[0], 30)
    )
    assert len(values) == len(set(values))
    assert values == sorted(values)
    # what was read since the last commit before the second signal may be lost (documented);
    # commits come every 200 ms, so every read older than 2 s by then was committed, and the
    # second run stops cleanly: all its reads are there
    at_risk = range(killed_ns - 2_000_000_000, killed_ns)
    committed = [n for n, t in enumerate(bank.read_times_ns, 1) if t not in at_risk]
    assert bank.read_times_ns[9] < at_risk.start  # the first run's committed reads are checked
    assert set(committed) <= set(values)


FULL_DISK = r"""
buf=$1 ctl=$2 map=$3 python=$4
mount -t tmpfs -o size=4m tmpfs "$buf" || exit 97
"$python" -m gateway run "$map" &
gw=$!
trap 'kill -TERM $gw' TERM
while [ ! -e "$ctl/fill" ]; do sleep 0.05; done
dd if=/dev/zero of="$buf/filler" bs=4096 2>/dev/null  # another program fills the disk
touch "$ctl/full"
while [ ! -e "$ctl/free" ]; do sleep 0.05; done
rm -f "$buf/filler"
while kill -0 $gw 2>/dev/null; do wait $gw; rc=$?; done
exit $rc
"""


def namespaces_work(where) -> bool:
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return False
    command = ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {where}"]
    return subprocess.run(command, capture_output=True, timeout=30).returncode == 0


@pytest.mark.parametrize("outage", [False, True], ids=["database-up", "database-down"])
async def test_a_full_disk_keeps_data_flowing_and_readyz_tells(victoria, tmp_path, outage):
    """The buffer's filesystem fills up (a 4 MiB tmpfs in a user and mount namespace, no root
    needed) while the database is up, or during an outage with a backlog on disk: the data
    keeps flowing (once the database is back), /readyz says why it is not ready, and once
    space is back nothing is missing or repeated."""
    import sys

    data, ctl = tmp_path / "data", tmp_path / "ctl"
    (data / "buffer").mkdir(parents=True)
    ctl.mkdir()
    if not namespaces_work(data / "buffer"):
        pytest.skip("unprivileged user and mount namespaces are not available here")
    bank = CountingBank()
    server = await start_modbus_server(bank)
    port = free_port()
    health = f"http://127.0.0.1:{port}"
    path = tag_map(tmp_path / "plant.yaml", server.endpoint, data, health=f"{{port: {port}}}")
    env = {**os.environ, "PYTHONPATH": str(ROOT), **influx_env(victoria)}
    args = [str(data / "buffer"), str(ctl), str(path), sys.executable]
    proc = await asyncio.create_subprocess_exec(
        "unshare", "-rm", "sh", "-c", FULL_DISK, "sh", *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= 5, 30)
        assert (await poll(lambda: get(f"{health}/readyz"), 10))[0] == 200
        if outage:  # a backlog piles up on disk first
            victoria.stop()
            down_at = bank.served
            await poll(lambda: bank.served >= down_at + 10, 30)
        (ctl / "fill").touch()
        await poll((ctl / "full").exists, 30)
        _, text = await poll(
            lambda: (r := get(f"{health}/readyz"))[0] == 503 and "durable" in r[1] and r, 30
        )
        assert "buffer not durable: disk full" in text
        full_at = bank.served
        if outage:
            await poll(lambda: bank.served >= full_at + 10, 30)  # held in memory meanwhile
            victoria.restart()
        await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= full_at + 10, 60)
        _, metrics = get(f"{health}/metrics")
        assert 'gateway_buffer_durable{sink="influxdb"} 0' in metrics
        assert 'gateway_sink_up{sink="influxdb"} 1' in metrics
        (ctl / "free").touch()
        await poll(lambda: get(f"{health}/readyz")[0] == 200, 30)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
    finally:
        if proc.returncode is None:  # a failed assertion: stop the gateway too, not only sh
            (ctl / "free").touch()
            proc.send_signal(signal.SIGTERM)  # forwarded to the gateway by the script
            try:
                await asyncio.wait_for(proc.communicate(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await server.stop()
    served = bank.served
    series = await victoria.wait_for_series_async(lambda s: len(counter(s)[0]) >= served, 30)
    values, stamps = counter(series)
    assert values == list(range(1, served + 1))  # every sample, in order, none twice
    assert stamps == sorted(set(stamps))
    log = err.decode()
    assert log.count("is not durable") == 2  # once per buffer (influxdb and file)
    assert log.count("is durable again") == 2
    assert "acknowledging failed" not in log
