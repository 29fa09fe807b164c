"""OPC UA device paths (state_dir, certificate, private_key, trusted_certs) are relative to the
tag-map file, like tags_csv and the buffer folder; defaults stay relative to the working
directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.collectors.opcua.compile import compile_opcua
from gateway.collectors.opcua.models import ChangeFilter, Mode, OpcuaDevice
from gateway.config.loader import load_tagmaps
from gateway.errors import ConfigError

MAP = """\
devices:
  - name: rect
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840
    state_dir: uastate
    certificate: pki/client.der
    private_key: pki/client.pem
    trusted_certs: ~/trusted
    security_policy: Basic256Sha256
    security_mode: Sign
    tags:
      - {name: a, node: "ns=2;s=a"}
  - name: plain
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4841
    tags:
      - {name: a, node: "ns=2;s=a"}
"""


def test_device_paths_are_relative_to_the_tag_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plant" / "pki").mkdir(parents=True)
    for name in ("client.der", "client.pem"):  # the check wants them to exist
        (tmp_path / "plant" / "pki" / name).write_text("-")
    (tmp_path / "plant" / "map.yaml").write_text(MAP)
    loaded = load_tagmaps(["plant/map.yaml"], env={})
    devices = [d for d in loaded.devices if isinstance(d, OpcuaDevice)]
    rect, plain = compile_opcua(devices)
    assert rect.security.state_dir == Path("plant") / "uastate"
    assert rect.security.certificate == Path("plant") / "pki" / "client.der"
    assert rect.security.private_key == Path("plant") / "pki" / "client.pem"
    assert rect.security.trusted_dir == Path.home() / "trusted"
    assert plain.security.state_dir == Path("data") / "opcua"  # the default: working directory
    assert plain.security.trusted_dir is None


def test_password_file_is_read_relative_to_the_map_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plant").mkdir()
    device = (
        "devices:\n  - name: rect\n    protocol: opcua\n    endpoint: opc.tcp://h:4840\n"
        "    username: operator\n    password_file: secret.txt\n"
        "    tags: [{name: a, node: 'ns=2;s=a'}]\n"
    )
    (tmp_path / "plant" / "map.yaml").write_text(device)
    with pytest.raises(ConfigError) as missing:
        load_tagmaps(["plant/map.yaml"], env={})
    assert [str(p) for p in missing.value.problems] == [
        "plant/map.yaml:6 devices[0].password_file: cannot read the password: "
        "No such file or directory"
    ]
    (tmp_path / "plant" / "secret.txt").write_text("s3cret-pass\nignored\n")
    (plan,) = compile_opcua(load_tagmaps(["plant/map.yaml"], env={}).devices)  # type: ignore[arg-type]
    assert plan.security.password is not None
    assert plan.security.password.reveal() == "s3cret-pass"
    assert "s3cret-pass" not in repr(plan)


def test_two_devices_of_one_server_are_two_connections_in_the_metrics(tmp_path: Path) -> None:
    """One session per device: the `endpoint` label names the device too, so two devices of
    one server do not give two identical series."""
    from gateway.collectors.opcua.collector import OpcuaConnection
    from gateway.runtime.app import Gateway
    from gateway.telemetry.metrics import collect, render_prometheus

    text = "devices:\n" + "".join(
        f"  - {{name: {name}, protocol: opcua, endpoint: 'opc.tcp://127.0.0.1:4840',\n"
        f"     tags: [{{name: a, node: 'ns=2;s=a'}}]}}\n"
        for name in ("feeder01", "feeder02")
    )
    (tmp_path / "map.yaml").write_text(text)
    plans = compile_opcua(load_tagmaps([str(tmp_path / "map.yaml")], env={}).devices)  # type: ignore[arg-type]
    names = [OpcuaConnection(plan, _discard).name for plan in plans]
    assert names == [
        "opc.tcp://127.0.0.1:4840 (feeder01)",
        "opc.tcp://127.0.0.1:4840 (feeder02)",
    ]
    text = render_prometheus(collect(Gateway(plans, []), 0))
    ups = [line for line in text.splitlines() if line.startswith("gateway_connection_up{")]
    assert len(ups) == len(set(ups)) == 2


async def _discard(_: object) -> None:
    return None


def test_an_x509_user_identity_is_read_from_the_map(tmp_path: Path) -> None:
    (tmp_path / "user.der").write_text("-")
    (tmp_path / "user.pem").write_text("-")
    text = (
        "devices:\n  - name: rect\n    protocol: opcua\n    endpoint: opc.tcp://h:4840\n"
        "    security_policy: Basic256Sha256\n    security_mode: Sign\n"
        "    user_certificate: user.der\n    user_private_key: user.pem\n"
        "    tags: [{name: a, node: 'ns=2;s=a'}]\n"
    )
    (tmp_path / "map.yaml").write_text(text)
    (plan,) = compile_opcua(load_tagmaps([str(tmp_path / "map.yaml")], env={}).devices)  # type: ignore[arg-type]
    assert plan.security.user_certificate == tmp_path / "user.der"
    assert plan.security.user_private_key == tmp_path / "user.pem"
    (tmp_path / "map.yaml").write_text(
        text.replace("user_private_key: user.pem\n", "username: op\n")
    )
    with pytest.raises(ConfigError) as both:
        load_tagmaps([str(tmp_path / "map.yaml")], env={})
    messages = [p.message for p in both.value.problems]
    assert any("user_certificate and user_private_key go together" in m for m in messages)


def test_a_csv_tag_list_sets_the_data_change_filter(tmp_path: Path) -> None:
    (tmp_path / "tags.csv").write_text(
        "name,node,filter_absolute,filter_percent,mode\n"
        "current,ns=2;s=current,0.5,,poll\n"
        "voltage,ns=2;s=voltage,,2,\n"
    )
    text = (
        "devices:\n  - name: rect\n    protocol: opcua\n    endpoint: opc.tcp://h:4840\n"
        "    tags_csv: tags.csv\n"
    )
    (tmp_path / "map.yaml").write_text(text)
    (device,) = load_tagmaps([str(tmp_path / "map.yaml")], env={}).devices
    assert isinstance(device, OpcuaDevice)
    current, voltage = device.tags
    assert (current.filter, voltage.filter) == (
        ChangeFilter(absolute=0.5),
        ChangeFilter(percent=2.0),
    )
    assert current.mode == Mode.POLL
