"""What the `gateway replay` tests replay, and where their file sink writes."""

from __future__ import annotations

from pathlib import Path

#: five millisecond-stamped lines, one second apart
LINES = [f"cell,device=c1 v={i}.5 {1_700_000_000_000 + i * 1000}" for i in range(5)]


def sinks_config(tmp_path: Path) -> Path:
    """Tag maps whose `sinks:` section writes files to tmp_path/out."""
    path = tmp_path / "sinks.yaml"
    path.write_text("devices: []\nsinks:\n  file:\n    directory: out\n")
    return path


def written(tmp_path: Path) -> list[str]:
    """The lines the file sink of `config` wrote."""
    return (tmp_path / "out" / "gateway.lp").read_text().splitlines()
