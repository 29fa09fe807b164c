"""Every YAML file of the stack is read by strict parsers: Grafana's provisioning and
docker compose (Go's yaml.v3) refuse a key given twice in one mapping, where PyYAML silently
keeps the last one; so the repository's YAML files must not repeat a key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key repeated in one mapping."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[object, object]:
    seen: dict[object, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if key in seen:
            problem = f"key {key!r} given twice (first on line {seen[key]})"
            raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def tracked_yaml() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.yaml", "*.yml"], cwd=ROOT, capture_output=True, text=True
    )
    names = listed.stdout.split() if listed.returncode == 0 else []
    # tests/cases holds broken tag maps on purpose
    return [n for n in names if not n.startswith("tests/cases/")]


def test_the_repository_has_yaml_files_to_check():
    names = tracked_yaml()
    assert "docker-compose.yml" in names
    assert "deploy/grafana/provisioning/datasources/influxdb.yaml" in names


@pytest.mark.parametrize("name", tracked_yaml())
def test_no_key_is_given_twice(name):
    for _ in yaml.load_all((ROOT / name).read_text(), Loader=StrictLoader):
        pass


def test_the_strict_loader_refuses_a_repeated_key():
    with pytest.raises(yaml.constructor.ConstructorError, match="'uid' given twice"):
        yaml.load("a:\n  uid: x\n  b: 1\n  uid: x\n", Loader=StrictLoader)
