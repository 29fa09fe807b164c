"""`make venv` / `make demo` install the project without a packaging warning: the forms
setuptools deprecates or warns about at every install are checked here, statically (building
for real needs the network for the build requirements)."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def test_the_license_is_an_spdx_expression_without_license_classifiers() -> None:
    project = pyproject()["project"]
    assert isinstance(project["license"], str)  # a {text = ...} table is deprecated
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
    # the SPDX form needs setuptools 77 (older ones refuse or warn about it)
    assert "setuptools>=77" in pyproject()["build-system"]["requires"]


def test_an_editable_install_is_a_plain_path_entry() -> None:
    # with the flat layout and no package-dir, setuptools installs an import-hook finder and
    # warns "Editable installation ... folders with the same name" at every install
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "."}
    assert setuptools["packages"]["find"]["include"] == ["gateway*", "simulators*"]
