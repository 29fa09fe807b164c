"""The process README's comparison with published figures is what the comparison script
prints, and every simulated figure lies in its published range."""

from __future__ import annotations

import subprocess
from pathlib import Path

from simulators.cli import main
from simulators.process import compare
from simulators.process.compare import END, START, Row

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "python -m simulators compare --write"


def readme_table() -> str:
    text = (ROOT / "simulators" / "process" / "README.md").read_text(encoding="utf-8")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_the_readme_table_is_the_scripts_output_and_every_figure_is_in_range(capsys):
    code = main(["compare"])
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("| product | quantity |")
    assert code == 0, f"a simulated figure left its published range:\n{printed}"
    assert readme_table() == printed, (
        f"simulators/process/README.md: the comparison table is stale; run `{REGENERATE}`"
    )
    rows = printed.splitlines()[2:]
    assert len(rows) == 3 * 5  # five figures for each of Nd, PrNd, GdFe


def test_a_figure_outside_its_range_fails_the_script(monkeypatch, capsys):
    hot = Row("Nd", "bath temperature", "°C", 1100.0, 1040, 1060, "[5]", 0)
    monkeypatch.setattr(compare, "all_rows", lambda: [hot])
    assert main(["compare"]) == 1
    assert "outside its published range: Nd bath temperature 1100" in capsys.readouterr().out


def test_no_file_of_the_repository_points_outside_it():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    machine = ("/" + "work/", "/" + "home/", "/" + "Users/", "electrolysis" + "-process.md")
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".yaml", ".yml", ".toml", ".json", ".csv", ".txt"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}: {word}" for word in machine if word in text]
    assert offenders == []
