"""`python -m simulators`: plant, replay, export-mappings, command-line faults."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient

from simulators.record import read_frames

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# a small plant on a free Modbus port, no OPC UA
TWO_CELLS_MODBUS_ONLY = ("plant", "--cells", "2", "--modbus-port", "0", "--no-opcua")


async def simulators(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def modbus_port(proc: asyncio.subprocess.Process) -> int:
    """The Modbus port a simulator started with --modbus-port 0 announces on stderr."""
    assert proc.stderr is not None
    while True:  # bounded by the wait_for
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, "the simulator exited early"
        if match := re.search(r"Modbus modbus\+tcp://127\.0\.0\.1:(\d+)", line):
            return int(match.group(1))


async def finished(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_plant_at_max_speed_records_its_duration_in_simulated_time(tmp_path):
    record = tmp_path / "run.lp"
    proc = await simulators(
        "plant",
        "--cells",
        "12",
        "--speed",
        "max",
        "--duration",
        "2m",
        "--modbus-port",
        "0",
        "--no-opcua",
        "--record",
        str(record),
        "--scenario",
        str(ROOT / "simulators/scenarios/feeder-jam.yaml"),
    )
    code, err = await finished(proc)
    assert code == 0, err
    frames = list(read_frames(record))
    assert len(frames) == 121
    assert (frames[-1][0] - frames[0][0]) == 120_000_000_000
    assert "Plant stopped at t=120s after 120 steps." in err

    proc = await simulators(
        "replay", str(record), "--speed", "max", "--modbus-port", "0", "--no-opcua"
    )
    code, err = await finished(proc)
    assert code == 0, err
    assert "Plant stopped at t=120s" in err


async def test_same_seed_scenario_and_start_give_identical_records(tmp_path):
    args = [
        "plant",
        "--cells",
        "12",
        "--seed",
        "4",
        "--speed",
        "max",
        "--duration",
        "15m",
        "--modbus-port",
        "0",
        "--no-opcua",
        "--start",
        "2026-01-01T00:00:00Z",
        "--scenario",
        str(ROOT / "simulators/scenarios/anode-effect-storm.yaml"),
    ]
    for name in ("a.lp", "b.lp"):
        code, err = await finished(await simulators(*args, "--record", str(tmp_path / name)))
        assert code == 0, err
    first = (tmp_path / "a.lp").read_bytes()
    assert first == (tmp_path / "b.lp").read_bytes()
    assert first.split(b"\n")[0].endswith(b" 1767225600000000000")


async def test_command_line_modbus_fault_and_sigterm():
    proc = await simulators(
        *TWO_CELLS_MODBUS_ONLY,
        "--modbus-fault",
        "cell02:exception=6",
        "--log-level",
        "INFO",
    )
    port = await modbus_port(proc)
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    await client.connect()
    try:
        busy = await client.read_input_registers(0, count=2, device_id=2)
        fine = await client.read_input_registers(0, count=2, device_id=1)
    finally:
        client.close()
    assert busy.isError()
    assert busy.exception_code == 6
    assert not fine.isError()
    proc.send_signal(signal.SIGTERM)
    code, _ = await finished(proc)
    assert code == 0


async def test_unknown_fault_is_a_clear_error():
    proc = await simulators(
        "plant",
        "--fault",
        "meteor_strike:cell01",
        "--no-opcua",
        "--modbus-port",
        "0",
        "--duration",
        "1",
    )
    code, err = await finished(proc)
    assert code == 2
    assert err.startswith("error: ")
    assert "meteor_strike" in err
    assert "Traceback" not in err


async def test_export_mappings_writes_the_bundled_maps(tmp_path):
    proc = await simulators("export-mappings", str(tmp_path))
    code, err = await finished(proc)
    assert code == 0, err
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert "feeders/cell12_feeder-tags.csv" in written  # one OPC UA tag list per feeder
    assert len(written) == 15  # plant.yaml, cell-tags.csv, rectifier-tags.csv, 12 feeders
    for name in written:
        assert (tmp_path / name).read_text() == (ROOT / "mappings" / name).read_text(), name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--modbus-port", "70000"], "port"),
        (["--modbus-fault", "nosuch:silent"], "nosuch"),
        (["--modbus-fault", "cell01:exception=99"], "99"),
        (["--opcua-bad", "nosuch.tag=BadCommunicationError"], "nosuch"),
        (["--speed", "nan"], "speed"),
        (["--record", "/proc/no/such/file.lp"], "/proc/no"),
        (["--log-level", "bogus"], "--log-level"),
    ],
)
async def test_bad_arguments_give_a_message_not_a_traceback(args, message):
    proc = await simulators(
        "plant", "--cells", "2", "--modbus-port", "0", "--opcua-port", "0", "--duration", "1", *args
    )
    code, err = await finished(proc)
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err


async def test_a_scenario_naming_an_unknown_device_fails_at_start(tmp_path):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("events:\n  - {at: 5h, fault: feeder_jam, target: cell99_feeder}\n")
    proc = await simulators(
        *TWO_CELLS_MODBUS_ONLY,
        "--duration",
        "1",
        "--scenario",
        str(scenario),
    )
    code, err = await finished(proc)
    assert code == 2
    assert "cell99_feeder" in err
    assert "Traceback" not in err


async def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    proc = await simulators("replay", str(tmp_path / "missing.lp"), "--no-opcua")
    code, err = await finished(proc)
    assert code == 2
    assert "missing.lp" in err
    assert "Traceback" not in err


async def test_a_timed_event_from_the_command_line_drops_the_connections():
    proc = await simulators(
        "plant",
        "--cells",
        "1",
        "--modbus-port",
        "0",
        "--no-opcua",
        "--speed",
        "10",
        "--event",
        "{at: 20s, modbus: {drop_connections: true}}",
    )
    port = await modbus_port(proc)
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    assert await client.connect()
    try:
        line = ""
        while "drop_connections" not in line:  # the event fires at 20 s simulated, 2 s wall
            line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
            assert line, "the simulator exited early"
        for _ in range(100):  # bounded: the close reaches the client within a few loop turns
            if not client.connected:
                break
            await asyncio.sleep(0.02)
        assert not client.connected
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        code, _ = await finished(proc)
    assert code == 0


async def test_record_every_thins_the_record_and_stays_identical_per_seed(tmp_path):
    args = [
        *TWO_CELLS_MODBUS_ONLY,
        "--seed",
        "3",
        "--speed",
        "max",
        "--duration",
        "20m",
        "--start",
        "2026-01-01T00:00:00Z",
        "--record-every",
        "60s",
        "--fault",
        "drift:cell01.bath_temp,rate=12,for=10m",
    ]
    for name in ("a.lp.gz", "b.lp.gz"):  # gzip-compressed, still bit-identical
        code, err = await finished(await simulators(*args, "--record", str(tmp_path / name)))
        assert code == 0, err
    first = (tmp_path / "a.lp.gz").read_bytes()
    assert first == (tmp_path / "b.lp.gz").read_bytes()
    lines = gzip.decompress(first).decode().splitlines()
    per_device: dict[str, int] = {}
    for line in lines:
        device = line.split(" ")[0].split("device=")[1]
        per_device[device] = per_device.get(device, 0) + 1
    assert per_device == dict.fromkeys(
        ["rectifier", "cell01", "cell01_feeder", "cell02", "cell02_feeder"], 21
    )
    frames = list(read_frames(tmp_path / "a.lp.gz"))
    assert [ts for ts, _ in frames[:2]] == [1767225600000000000, 1767225660000000000]
    drifted = [f["cell01"][1] for _, f in frames if "bath_temp_reported" in f["cell01"][1]]
    assert len(drifted) == 10  # 0 .. 9 min: the drift's 10 minutes
    last = drifted[-1]
    assert last["bath_temp_reported"] == pytest.approx(last["bath_temp"] + 12 * 9 / 60)


async def test_a_command_line_data_quality_fault_is_served_over_modbus():
    proc = await simulators(
        *TWO_CELLS_MODBUS_ONLY, "--fault", "stuck:cell02.cell_voltage,value=7.25"
    )
    port = await modbus_port(proc)
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    await client.connect()
    try:
        stuck = await client.read_input_registers(0, count=2, device_id=2)
        fine = await client.read_input_registers(0, count=2, device_id=1)
    finally:
        client.close()
    as_float = lambda r: AsyncModbusTcpClient.convert_from_registers(  # noqa: E731
        r.registers, AsyncModbusTcpClient.DATATYPE.FLOAT32
    )
    assert as_float(stuck) == 7.25
    assert 8.0 < as_float(fine) < 10.0
    proc.send_signal(signal.SIGTERM)
    code, _ = await finished(proc)
    assert code == 0
