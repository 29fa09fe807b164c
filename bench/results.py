"""Where every benchmark's figures go: one JSON object per run, appended as one line to
`bench/results/<name>.jsonl`, with the date, the git revision and the machine.

`BENCH_RESULTS_DIR` sends them elsewhere (the smoke tests write to a temporary folder, so a
test run never touches the committed results).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = Path(__file__).with_name("results")
PACKAGES = ("pymodbus", "asyncua", "influxdb-client", "pydantic", "PyYAML")


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS_DIR") or DEFAULT_DIR)


def git_revision() -> str:
    """`git rev-parse --short HEAD`, with "-dirty" when the work tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python and the versions of the packages on the measured path."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "packages": versions,
    }


def write(name: str, figures: dict[str, Any]) -> Path:
    """Append one run of benchmark `name` (its figures plus the metadata); return the file."""
    record = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_revision": git_revision(),
        "machine": machine(),
        **figures,
    }
    path = results_dir() / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(record) + "\n")
    print(f"results appended to {path}")
    return path


def latest(name: str) -> dict[str, Any] | None:
    """The last run of benchmark `name` in the results folder, or None."""
    path = results_dir() / f"{name}.jsonl"
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return None
    return json.loads(lines[-1]) if lines else None
