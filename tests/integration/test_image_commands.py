"""The image's commands work as plain commands outside Docker: the `gateway` script and
`python -m simulators` of the installed environment, and the Dockerfile's HEALTHCHECK, run
against a real `gateway run` with the image's settings file in a working directory of its own
(as in the container: no `buffer:` section, so the buffer lands there), and compose's check
of the plant."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from gateway.collectors.modbus.types import Space
from simulators.modbus_server import RegisterBank, start_modbus_server
from simulators.ports import free_port
from tests.composefile import ROOT, dockerfile, exec_form, healthcheck_target

BIN = Path(sys.executable).parent  # the environment the tests run in, as the image's PATH


def clean_env() -> dict[str, str]:
    """No PYTHONPATH (the installed package, not the checkout) and no InfluxDB settings."""
    return {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("INFLUXDB_")
    }


def test_gateway_and_simulators_run_as_plain_commands(tmp_path):
    for command, expected in (
        ([str(BIN / "gateway"), "--help"], "run"),
        ([str(BIN / "python"), "-m", "simulators", "--help"], "plant"),
    ):
        done = subprocess.run(
            command, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout, command


def image_healthcheck(port: int) -> list[str]:
    """The Dockerfile's HEALTHCHECK command, asking `port` instead of 9273 (the suite holds
    that one)."""
    (arguments,) = [args for word, args in dockerfile() if word == "HEALTHCHECK"]
    command = exec_form(arguments.split(" CMD ", 1)[1])
    host, default = healthcheck_target(command)
    assert (host, default) == ("127.0.0.1", 9273)
    return [str(BIN / "python"), "-c", command[2].replace(f", {default},", f", {port},")]


async def until(check: Callable[[], subprocess.CompletedProcess[str]], ok, timeout: float):
    """Run the health check until `ok(result)`; the last result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        done = await asyncio.to_thread(check)
        if ok(done) or loop.time() > deadline:
            return done
        await asyncio.sleep(0.1)  # a separate process's state: nothing to await


async def test_the_image_health_check_follows_readyz(tmp_path):
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [42])
    server = await start_modbus_server(bank)
    tagmap = tmp_path / "maps" / "plc.yaml"
    tagmap.parent.mkdir()
    tagmap.write_text(
        "devices:\n  - {name: plc, endpoint: '" + server.endpoint + "', unit_id: 1,"
        " scan_rate: 200ms, timeout: 500ms, retries: 0,"
        " tags: [{name: level, space: holding_register, address: 0}]}\n"
    )
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "gateway"),
        "run",
        str(ROOT / "deploy/gateway/container.yaml"),
        str(tagmap.parent),
        "--health-port",
        str(port),
        "--duration",
        "60",
        cwd=tmp_path,
        env=clean_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    check = image_healthcheck(port)

    def probe() -> subprocess.CompletedProcess[str]:
        return subprocess.run(check, capture_output=True, text=True, timeout=10)

    try:
        ready = await until(probe, lambda d: d.returncode == 0, 30)
        assert ready.returncode == 0, ready.stderr
        assert ready.stdout.startswith("200 ready"), ready.stdout

        await server.stop()  # the only device goes down: /readyz 503, the check fails
        down = await until(probe, lambda d: d.returncode != 0, 30)
        assert down.returncode == 1, down.stderr
        assert down.stdout.startswith("503 "), down.stdout
        assert "no device up" in down.stdout, down.stdout
    finally:
        await server.stop()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode in (0, 1), err.decode()
    # the image's working directory is its volume: the buffer and the file sink's data are there
    assert (tmp_path / "data" / "buffer" / "file.sqlite").is_file()
    assert "plc level=42i" in "".join(p.read_text() for p in (tmp_path / "data").glob("*.lp"))


def test_the_plant_health_check_needs_both_servers_listening():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    *_, code = compose["services"]["plant"]["healthcheck"]["test"]
    with socket.socket() as modbus, socket.socket() as opcua:
        for sock in (modbus, opcua):
            sock.bind(("127.0.0.1", 0))
        modbus.listen()
        ports = [str(s.getsockname()[1]) for s in (modbus, opcua)]
        check = code.replace("(5020, 4840)", f"({', '.join(ports)})")
        assert check != code

        def run() -> subprocess.CompletedProcess[str]:
            command = [str(BIN / "python"), "-c", check]
            return subprocess.run(command, capture_output=True, text=True, timeout=30)

        only_modbus = run()  # OPC UA not listening yet
        opcua.listen()
        both = run()
    assert only_modbus.returncode == 1
    assert "ConnectionRefusedError" in only_modbus.stderr
    assert both.returncode == 0, both.stderr
