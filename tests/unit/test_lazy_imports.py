"""What a gateway does not need is not imported: asyncua (and the cryptography it brings) only
for OPC UA devices or `gateway browse`, pymodbus only for a gateway that polls Modbus. Each
costs memory (~24 MB for asyncua) in every `check`, `plan` and `run` of a large Modbus map."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

MODBUS_MAP = """\
devices:
  - name: cell01
    endpoint: modbus+tcp://127.0.0.1:5020
    tags:
      - {name: v1, space: holding_register, address: 100, type: float32}
"""

OPCUA_MAP = """\
devices:
  - name: line1
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840
    tags:
      - {name: speed, node: "ns=2;s=Speed"}
"""

HEAVY = ("asyncua", "cryptography", "pymodbus")


def imported_after(argv: list[str]) -> tuple[int, list[str]]:
    """The exit code of `gateway <argv>` in a fresh interpreter and which of HEAVY it loaded."""
    code = (
        "import sys\nfrom gateway.cli import main\n"
        f"try:\n    code = main({argv!r})\nexcept SystemExit as stop:\n    code = stop.code\n"
        f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    exit_code, modules = done.stdout.splitlines()[-1].split(" ", 1)
    return int(exit_code), ast.literal_eval(modules)


@pytest.mark.parametrize("command", ["check", "plan"])
def test_a_modbus_map_loads_neither_asyncua_nor_pymodbus(tmp_path: Path, command: str) -> None:
    (tmp_path / "map.yaml").write_text(MODBUS_MAP, encoding="utf-8")
    assert imported_after([command, str(tmp_path / "map.yaml")]) == (0, [])


def test_the_command_line_offers_browse_without_loading_asyncua() -> None:
    code, modules = imported_after(["browse", "--help"])
    assert code == 0
    assert modules == []


def test_an_opcua_map_is_still_checked_with_asyncua(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(OPCUA_MAP, encoding="utf-8")
    code, modules = imported_after(["check", str(tmp_path / "map.yaml")])
    assert code == 0
    assert "asyncua" in modules


class Built(Exception):
    """Stops `gateway run` once its gateway would be built."""


def test_run_frees_the_validated_devices_before_building_the_collectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from gateway.cli import main
    from gateway.collectors.modbus.models import ModbusDevice, ModbusTag
    from gateway.runtime import assemble

    found: dict[str, object] = {}

    def build_gateway(config: object, **options: object) -> object:
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, ModbusDevice | ModbusTag)]
        found.update(alive=len(alive), plans=len(options.get("connections") or ()))
        raise Built

    monkeypatch.setattr(assemble, "build_gateway", build_gateway)
    (tmp_path / "map.yaml").write_text(MODBUS_MAP, encoding="utf-8")
    with pytest.raises(Built):
        main(["run", str(tmp_path / "map.yaml")])
    assert found == {"alive": 0, "plans": 1}
