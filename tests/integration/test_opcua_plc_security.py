"""The simulator's OPC UA PLC security options: endpoints per level, a server certificate
kept over restarts, the user list, and the command-line options (127.0.0.1, port 0)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from asyncua import Client, ua

from gateway.collectors.opcua.security import (
    Secret,
    SecuritySettings,
    configure,
    describe,
    trust_server_certificate,
)
from simulators.cli import build_parser
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc, node_id
from simulators.opcua_security import PlcSecurity, from_arguments
from simulators.process.plant import Plant

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


async def offered(plc: OpcUaPlc) -> tuple[list[str], list[list[int]]]:
    endpoints = await Client(plc.endpoint).connect_and_get_server_endpoints()
    tokens = [[int(t.TokenType) for t in ep.UserIdentityTokens] for ep in endpoints]
    return describe(endpoints), tokens


async def test_default_offers_none_to_anyone_and_makes_no_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default pki folder is relative to the working directory
    plc = OpcUaPlc(Plant(cells=1), port=0, devices=["rectifier"])
    await plc.start()
    try:
        names, tokens = await offered(plc)
    finally:
        await plc.stop()
    assert names == ["None/None"]
    assert tokens == [[0, 1]]  # anonymous and user name
    assert list(tmp_path.iterdir()) == []


async def test_secured_only_levels_keep_their_certificate_over_a_restart(tmp_path: Path) -> None:
    security = PlcSecurity(("sign", "encrypt"), tmp_path / "pki", {"op": "pw"})
    plc = OpcUaPlc(Plant(cells=1), port=0, devices=["rectifier"], security=security)
    await plc.start()
    try:
        names, tokens = await offered(plc)
        cert = (tmp_path / "pki" / "own" / "server_cert.der").read_bytes()
        await plc.restart()
        endpoints = await Client(plc.endpoint).connect_and_get_server_endpoints()
    finally:
        await plc.stop()
    assert names == ["Basic256Sha256/Sign", "Basic256Sha256/SignAndEncrypt"]
    assert tokens == [[1], [1]]  # user name only: anonymous is refused
    assert {ep.ServerCertificate for ep in endpoints} == {cert}
    assert "pw" not in repr(security)


def test_command_line_options() -> None:
    args = build_parser().parse_args(
        [
            "plant",
            "--opcua-security",
            "none,all",
            "--opcua-pki",
            "certs",
            "--opcua-user",
            "op:secret:with:colons",
            "--opcua-user",
            "eng:x",
        ]
    )
    security = from_arguments(args)
    assert security.levels == ("none", "all")
    assert security.pki_dir == Path("certs")
    assert dict(security.users) == {"op": "secret:with:colons", "eng": "x"}
    assert len(security.policies) == 7
    default = from_arguments(build_parser().parse_args(["plant"]))
    assert default == PlcSecurity()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--opcua-security", "sign,tls", "OPC UA security level tls is not one of none, sign"),
        ("--opcua-user", "nopassword", "--opcua-user wants NAME:PASSWORD"),
    ],
)
def test_bad_command_line_options_say_why(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plant", option, value])
    assert message in capsys.readouterr().err


async def test_the_plant_command_serves_secured_with_users(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "plant",
        "--cells",
        "1",
        "--modbus-port",
        "0",
        "--opcua-port",
        "0",
        "--opcua-security",
        "encrypt",
        "--opcua-pki",
        str(tmp_path / "server"),
        "--opcua-user",
        "op:pw",
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        while True:  # bounded by the wait_for
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            assert line, "the simulator exited early"
            if match := re.search(r"OPC UA (opc\.tcp://127\.0\.0\.1:\d+)", line):
                url = match.group(1)
                break
        settings = SecuritySettings(
            state_dir=tmp_path / "client",
            policy="Basic256Sha256",
            mode="SignAndEncrypt",
            username="op",
            password=Secret("pw"),
        )
        assert await trust_server_certificate(url, settings) is not None
        client = Client(url, timeout=10)
        await configure(client, settings)
        async with client:
            ns = await client.get_namespace_index(NAMESPACE_URI)
            node = client.get_node(ua.NodeId(node_id("rectifier", "line_current"), ns))
            assert isinstance(await node.read_value(), float)
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
