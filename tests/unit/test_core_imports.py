"""The core never imports a protocol's module: it reaches protocols through the registry
(gateway/collectors/registry.py), so a new protocol needs no change to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
CORE = ["config", "runtime", "telemetry", "pipeline", "cli.py", "demo.py", "model.py", "clock.py"]
#: what of gateway.collectors the core may use: the contract and the neutral helpers
NEUTRAL = {"base", "registry", "schedule", "devicestate"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, `from x import y` also as x.y."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def core_files() -> list[Path]:
    files: list[Path] = []
    for part in CORE:
        target = GATEWAY / part
        files += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return files


def test_the_core_files_exist() -> None:
    assert len(core_files()) > 20  # the walk found the packages (a moved folder fails here)


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(GATEWAY)))
def test_core_module_imports_no_protocol_module(path: Path) -> None:
    wrong = [
        f"{path.name}:{line} imports {module}"
        for line, module in imported_modules(path)
        if module.startswith("gateway.collectors.") and module.split(".")[2] not in NEUTRAL
    ]
    assert wrong == []


def test_the_check_sees_a_protocol_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        "from gateway.collectors import modbus\nimport gateway.collectors.modbus.types\n"
        "def f():\n    from gateway.collectors.modbus.compile import compile_connections\n"
    )
    modules = [m for _, m in imported_modules(sample) if m.startswith("gateway.collectors.")]
    assert modules == [
        "gateway.collectors.modbus",
        "gateway.collectors.modbus.types",
        "gateway.collectors.modbus.compile",
        "gateway.collectors.modbus.compile.compile_connections",
    ]
