"""The scenarios that come with the package (`scenarios/`, in the wheel too: in the image they
exist nowhere else), and what `--scenario FILE|NAME` means: a file, else a bundled name.
Only pathlib: the command line lists the names in its --help."""

from __future__ import annotations

from pathlib import Path

#: the scenarios that come with the package (in the wheel too): `--scenario NAME`
BUNDLED_SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def bundled_scenario_names() -> list[str]:
    return sorted(p.stem for p in BUNDLED_SCENARIOS.glob("*.yaml"))


def find_scenario(text: str) -> Path:
    """The scenario file `text` names: a file that exists, else a bundled scenario's name
    (with or without .yaml); ValueError listing the bundled names."""
    path = Path(text)
    if path.is_file():
        return path
    bundled = BUNDLED_SCENARIOS / f"{text.removesuffix('.yaml')}.yaml"
    if path.name == text and bundled.is_file():  # a bare name, not a path elsewhere
        return bundled
    names = ", ".join(bundled_scenario_names())
    raise ValueError(f"{text}: no such file, nor a bundled scenario ({names})")
