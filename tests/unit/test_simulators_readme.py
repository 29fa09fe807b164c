"""The simulators README shows the register map the code serves."""

from pathlib import Path

import pytest

from simulators.export import register_table

README = Path(__file__).resolve().parents[2] / "simulators" / "README.md"


@pytest.mark.parametrize("kind", ["cell", "feeder", "rectifier"])
def test_readme_register_tables_match_the_register_map(kind):
    assert register_table(kind) in README.read_text(), (
        f"simulators/README.md: the {kind} table differs from simulators/registermap.py"
    )
