"""`gateway browse`: its map passes `gateway check` as it is and `gateway once` on it reads what a
plain asyncua client reads; secured servers, refused logins, trusting the server certificate,
--depth and --node.

The servers run in-process on 127.0.0.1 (port 0), in a thread of their own because the command
runs its own event loop. The simulated plant is never stepped (no runner), so its values hold
still between the two reads compared.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from asyncua import Client

from gateway.cli import main
from gateway.collectors import registry
from gateway.collectors.opcua.nodeids import parse_node_id, resolve
from gateway.sinks.lineprotocol import parse_line
from simulators.catalog import CATALOG
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc
from simulators.opcua_security import PlcSecurity
from simulators.process.plant import Plant
from tests.integration.opcua_typed_server import TypedServer, start_typed_server

pytestmark = pytest.mark.integration
T = TypeVar("T")
USER, PASSWORD = "operator", "s3cret-pass"


class ServerThread:
    """An event loop in a thread of its own, for servers the synchronous CLI talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, job: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(job, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[ServerThread]:
    thread = ServerThread()
    yield thread
    thread.close()


def plant() -> Plant:
    plant = Plant(cells=1, seed=3)
    plant.step(1.0)
    return plant


@pytest.fixture(scope="module")
def plc(loop: ServerThread) -> Iterator[OpcUaPlc]:
    server = OpcUaPlc(plant(), port=0)
    loop.call(server.start())
    yield server
    loop.call(server.stop())


@pytest.fixture(scope="module")
def secured(loop: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpcUaPlc]:
    """Basic256Sha256 Sign and SignAndEncrypt only, one user."""
    pki = tmp_path_factory.mktemp("server-pki")
    security = PlcSecurity(("sign", "encrypt"), pki, {USER: PASSWORD})
    server = OpcUaPlc(plant(), port=0, devices=["rectifier"], security=security)
    loop.call(server.start())
    yield server
    loop.call(server.stop())


@pytest.fixture(scope="module")
def typed(loop: ServerThread) -> Iterator[TypedServer]:
    server = loop.call(start_typed_server())
    yield server
    loop.call(server.stop())


def browse(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["browse", *args])
    out, err = capsys.readouterr()
    return code, out, err


def tags_of(text: str) -> list[dict[str, Any]]:
    (device,) = yaml.safe_load(text)["devices"]
    return list(device["tags"] or [])


def once(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, object], str]:
    """Exit code, every field `gateway once` printed (by name), stderr."""
    code = main(["once", str(path)])
    out, err = capsys.readouterr()
    fields: dict[str, object] = {}
    for line in out.splitlines():
        fields.update(parse_line(line)[2])
    return code, fields, err


async def plain_read(endpoint: str, nodes: list[str]) -> list[object]:
    async with Client(endpoint) as client:
        names = await client.get_namespace_array()
        ids = [client.get_node(resolve(parse_node_id(n), names)) for n in nodes]
        return [dv.Value.Value for dv in await client.read_attributes(ids)]


def test_browse_output_passes_check_and_once_reads_what_a_plain_client_reads(
    plc: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "browsed.yaml"
    code, _, err = browse(capsys, plc.endpoint, "-o", str(out_file))
    assert code == 0, err
    text = out_file.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    tags = tags_of(text)
    variables = sum(len(CATALOG[plc.plant.kind(d)]) for d in plc.devices)
    assert len(tags) == variables  # every variable of the plant is a tag
    assert all(t["node"].startswith(f"nsu={NAMESPACE_URI};") for t in tags)
    assert main(["check", str(out_file)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: 1 devices, {len(tags)} tags")

    code, fields, err = once(capsys, out_file)
    assert code == 0, err
    expected = asyncio.run(plain_read(plc.endpoint, [t["node"] for t in tags]))
    read = {t["name"]: fields[t["name"]] for t in tags}
    assert read == {t["name"]: value for t, value in zip(tags, expected, strict=True)}
    assert {"line_current", "line_voltage", "bath_temp"} <= set(read)


def test_browse_prints_to_stdout_what_it_writes_to_a_file(
    plc: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = browse(capsys, plc.endpoint, "--device-name", "rect", "--depth", "4")
    assert code == 0
    (device,) = yaml.safe_load(out)["devices"]
    assert device["name"] == "rect"
    assert device["endpoint"] == plc.endpoint
    assert (device["security_policy"], device["security_mode"]) == ("None", "None")
    assert "username" not in device
    assert "password" not in device
    assert "state_dir" not in device


def test_depth_and_node_bound_the_output(plc: OpcUaPlc, capsys: pytest.CaptureFixture[str]) -> None:
    # Objects / Plant / Potline1 / Rectifier|Cell01 / variables (4) / Feeder / variables (6)
    _, three, _ = browse(capsys, plc.endpoint, "--depth", "3")
    _, four, _ = browse(capsys, plc.endpoint, "--depth", "4")
    _, deep, _ = browse(capsys, plc.endpoint)
    assert tags_of(three) == []
    nodes_four = {t["node"] for t in tags_of(four)}
    nodes_deep = {t["node"] for t in tags_of(deep)}
    assert nodes_four
    assert nodes_four < nodes_deep
    assert not any(".Feeder." in n for n in nodes_four)
    assert any(".Feeder." in n for n in nodes_deep)

    start = f"nsu={NAMESPACE_URI};s=Potline1.Rectifier"
    code, below, err = browse(capsys, plc.endpoint, "--node", start, "--depth", "1")
    assert code == 0, err
    nodes = {t["node"] for t in tags_of(below)}
    assert nodes
    assert all(n.startswith(f"{start}.") for n in nodes)
    assert nodes < nodes_four


def test_an_unknown_start_node_is_one_line(
    plc: OpcUaPlc, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = browse(capsys, plc.endpoint, "--node", f"nsu={NAMESPACE_URI};s=Nowhere")
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "BadNodeIdUnknown" in err
    code, _, err = browse(capsys, plc.endpoint, "--node", "nsu=urn:not-there;i=5")
    assert code == 2
    assert "urn:not-there" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unwritable_output_file_is_one_line(
    plc: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "map.yaml"
    code, out, err = browse(capsys, plc.endpoint, "--depth", "4", "-o", str(target))
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [f"error: cannot write {target}: No such file or directory"]


def test_trusting_a_server_without_security_says_there_is_nothing_to_trust(
    plc: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--depth", "4", "--trust-server-cert", "--state-dir", str(tmp_path / "s")]
    code, out, err = browse(capsys, plc.endpoint, *args)
    assert code == 0
    assert tags_of(out)
    assert "nothing to trust with security policy None" in err
    assert not (tmp_path / "s").exists()


def test_an_unreachable_server_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = browse(capsys, "opc.tcp://127.0.0.1:1")
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "error: cannot connect to opc.tcp://127.0.0.1:1: connection refused "
        "(is the server running?)"
    ]


def secured_args(server: OpcUaPlc, state: Path, mode: str = "SignAndEncrypt") -> list[str]:
    return [
        server.endpoint,
        "--security-policy",
        "Basic256Sha256",
        "--security-mode",
        mode,
        "--username",
        USER,
        "--state-dir",
        str(state),
    ]


def test_untrusted_server_is_refused_then_trusted_on_request(
    secured: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("OPCUA_PASSWORD", PASSWORD)
    state = tmp_path / "state"
    code, out, err = browse(capsys, *secured_args(secured, state))
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    rejected = list((state / "pki" / "rejected").iterdir())
    assert len(rejected) == 1
    assert f"saved it as {rejected[0]}" in line
    assert f"move it to {state / 'pki' / 'trusted'}/" in line

    code, out, err = browse(capsys, *secured_args(secured, state), "--trust-server-cert")
    assert code == 0, err
    (stored,) = list((state / "pki" / "trusted").iterdir())
    assert stored.read_bytes() == rejected[0].read_bytes()
    assert f"trusted the server certificate: stored it as {stored}" in err
    assert tags_of(out)

    code, _, err = browse(capsys, *secured_args(secured, state), "--trust-server-cert")
    assert code == 0
    assert f"already trusted: {stored}" in err


def test_secured_browse_gives_a_map_that_check_and_once_read_with_the_password(
    secured: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    state = tmp_path / "state"
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    monkeypatch.delenv("OPCUA_PASSWORD", raising=False)
    out_file = tmp_path / "secured.yaml"
    args = [*secured_args(secured, state, "Sign"), "--trust-server-cert", "-o", str(out_file)]
    code, _, err = browse(capsys, *args, "--password-file", str(secret))
    assert code == 0, err
    assert PASSWORD not in err
    text = out_file.read_text(encoding="utf-8")
    assert PASSWORD not in text
    (device,) = yaml.safe_load(text)["devices"]
    assert device["security_policy"] == "Basic256Sha256"
    assert device["security_mode"] == "Sign"
    assert device["username"] == USER
    assert device["password"] == "${OPCUA_PASSWORD}"
    assert device["state_dir"] == str(state)

    monkeypatch.setenv("OPCUA_PASSWORD", PASSWORD)
    assert main(["check", str(out_file)]) == 0
    capsys.readouterr()
    code, fields, err = once(capsys, out_file)
    assert code == 0, err
    truth = asyncio.run(read_secured(secured, state, [t["node"] for t in device["tags"]]))
    assert {t["name"]: fields[t["name"]] for t in device["tags"]} == dict(
        zip([t["name"] for t in device["tags"]], truth, strict=True)
    )


async def read_secured(server: OpcUaPlc, state: Path, nodes: list[str]) -> list[object]:
    """The same nodes read by a plain asyncua client on a secured session."""
    from gateway.collectors.opcua.security import Secret, SecuritySettings, configure

    client = Client(server.endpoint)
    settings = SecuritySettings(
        state_dir=state,
        policy="Basic256Sha256",
        mode="Sign",
        username=USER,
        password=Secret(PASSWORD),
    )
    await configure(client, settings)
    async with client:
        names = await client.get_namespace_array()
        ids = [client.get_node(resolve(parse_node_id(n), names)) for n in nodes]
        return [dv.Value.Value for dv in await client.read_attributes(ids)]


def test_a_wrong_password_is_one_line_naming_the_server_answer(
    secured: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("OPCUA_PASSWORD", "not-the-password")
    args = [*secured_args(secured, tmp_path / "state"), "--trust-server-cert"]
    code, out, err = browse(capsys, *args)
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert lines[0].startswith("trusted the server certificate")
    assert len(lines) == 2
    assert "BadUserAccessDenied" in lines[1]
    assert repr(USER) in lines[1]
    assert "not-the-password" not in err
    assert "Traceback" not in err


def test_a_username_without_a_password_says_so_instead_of_logging_in(
    secured: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.delenv("OPCUA_PASSWORD", raising=False)
    code, out, err = browse(capsys, *secured_args(secured, tmp_path / "state"))
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"error: no password for user {USER!r}: set OPCUA_PASSWORD or give --password-file"
    )


def test_a_policy_the_server_does_not_offer_names_what_it_offers(
    secured: OpcUaPlc, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = browse(capsys, secured.endpoint, "--state-dir", str(tmp_path))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "does not offer None/None" in line
    assert "Basic256Sha256/Sign, Basic256Sha256/SignAndEncrypt" in line


def test_arrays_get_their_length_and_what_cannot_be_read_is_left_out(
    typed: TypedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "typed.yaml"
    code, _, err = browse(capsys, typed.endpoint, "-o", str(out_file))
    assert code == 0, err
    text = out_file.read_text(encoding="utf-8")
    tags = {t["name"]: t for t in tags_of(text)}
    assert tags["double_array"]["array_length"] == 3  # ArrayDimensions [3]
    assert tags["open_array"]["array_length"] == 2  # open: the value's length
    assert "array_length" not in tags["double"]
    assert "matrix" not in tags
    assert "multi-dimensional arrays are not supported" in text  # listed as not a tag
    assert main(["check", str(out_file)]) == 0
    capsys.readouterr()
    code, fields, err = once(capsys, out_file)
    assert code == 1  # the server's node with a Bad status
    assert "BAD opcua.bad: BadSensorFailure" in err
    assert [fields[f"open_array_{i}"] for i in range(2)] == [1.0, 2.0]
    assert [fields[f"uint64_array_{i}"] for i in range(3)] == [2**64 - 1] * 3
    assert fields["string"] == "Potline 1, cell 01 = ok"


def test_the_opcua_plugin_contributes_browse() -> None:
    assert "browse" in {command.name for command in registry.commands()}
