"""The OPC UA collector on a secured server (the simulator's PLC with Basic256Sha256
SignAndEncrypt and a user list): username/password accepted; a refused identity is a clear
reason from `gateway once` (no traceback), and `run` keeps retrying with the device DOWN."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.collectors.base import State
from gateway.collectors.opcua.collector import OpcuaConnection
from gateway.model import Quality
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc, node_id
from simulators.opcua_security import PlcSecurity
from simulators.process.plant import Plant
from tests.integration.opcua_collecting import (
    Recorder,
    eventually,
    every_field,
    plan_of,
    running,
)
from tests.processes import start_gateway

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
NODE = f"nsu={NAMESPACE_URI};s={node_id('rectifier', 'line_current')}"
TAGS = [{"name": "line_current", "node": NODE}, {"name": "polled", "node": NODE, "mode": "poll"}]


@pytest_asyncio.fixture
async def plc(tmp_path: Path) -> AsyncIterator[OpcUaPlc]:
    security = PlcSecurity(("encrypt",), tmp_path / "server-pki", {"op": "s3cret"})
    server = OpcUaPlc(Plant(cells=1), port=0, devices=["rectifier"], security=security)
    await server.start()
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    shutil.copy(tmp_path / "server-pki" / "own" / "server_cert.der", trusted)
    yield server
    await server.stop()


def secured(tmp_path: Path, password: str) -> dict[str, object]:
    return {
        "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt",
        "username": "op",
        "password": password,
        "state_dir": str(tmp_path / "state"),
        "trusted_certs": str(tmp_path / "trusted"),
    }


async def test_username_and_password_over_sign_and_encrypt(plc: OpcUaPlc, tmp_path: Path) -> None:
    plan = plan_of(plc.endpoint, TAGS, **secured(tmp_path, "s3cret"))
    connection = OpcuaConnection(plan, Recorder())
    samples = await connection.scan_all()
    assert [s.quality for s in samples] == [Quality.GOOD, Quality.GOOD]
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    async with running(connection):
        await recorder.until(every_field(plan, lambda s: s.quality is Quality.GOOD))
        assert connection.devices["dev"].state is State.UP


async def test_a_refused_identity_keeps_the_device_down_and_retrying(
    plc: OpcUaPlc, tmp_path: Path
) -> None:
    plan = plan_of(plc.endpoint, TAGS, **secured(tmp_path, "wrong"))
    samples = await OpcuaConnection(plan, Recorder()).scan_all()
    assert {s.quality for s in samples} == {Quality.BAD}
    assert "BadUserAccessDenied" in samples[0].reason
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    async with running(connection):
        await eventually(lambda: connection.stats.connects >= 3)
        assert connection.devices["dev"].state is State.DOWN
        assert "BadUserAccessDenied" in connection.devices["dev"].last_error
    bad = recorder.samples
    assert len(bad) == 2  # once per field, not per attempt
    assert all(s.quality is Quality.BAD and "BadUserAccessDenied" in s.reason for s in bad)


async def test_once_names_the_refusal_without_a_traceback(plc: OpcUaPlc, tmp_path: Path) -> None:
    settings = secured(tmp_path, "${OPCUA_PASSWORD}")
    lines = [
        f"      {key}: {value!r}" if key != "password" else f"      {key}: {value}"
        for key, value in settings.items()
    ]
    text = "\n".join(
        [
            "devices:",
            "  - name: rect",
            "    protocol: opcua",
            f"    endpoint: {plc.endpoint}",
            "    measurement: rectifier",
            *(line[2:] for line in lines),
            "    tags:",
            f'      - {{name: line_current, node: "{NODE}"}}',
            "",
        ]
    )
    path = tmp_path / "secured.yaml"
    path.write_text(text)
    proc = await start_gateway("once", str(path), env={"OPCUA_PASSWORD": "not-Th3-passw0rd"})
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err
    assert "BadUserAccessDenied" in err.decode()
    assert "Traceback" not in err.decode()
    assert "not-Th3-passw0rd" not in err.decode() + out.decode()
