"""The fast YAML path (libyaml events, shallow locations) gives what PyYAML's composed nodes
give: the same data, lines, texts and problems; deeper lines are found when asked for."""

from __future__ import annotations

import pytest
import yaml

from gateway.config.locations import SHALLOW
from gateway.config.yamlevents import EventBuilder, Unsupported
from gateway.config.yamlsource import YamlSource, load_yaml, parse_text
from gateway.config.yamlwalk import Walker
from gateway.errors import Problem

DOCUMENTS = [
    "devices:\n  - name: a\n    tags:\n      - {name: t, address: 010, on: yes}\n",
    "a: 1\nb: 1.50\nc: no\nd: ~\ne: 2024-01-02\nf: '010'\ng: !!str 7\nh: \"x\"\n",
    "a: 1\na: 2\nb:\n  c: 1\n  c: 3\n",
    "? !!int '3'\n: three\n1: one\ntrue: yes\nnull: nothing\n",
    "list:\n- 1\n-\n  - x\n  - y: [1, 2, {z: 0x1F}]\n- |\n  two\n  lines\n",
    "a: 1\r\nb:\r\n  - 2\r\n",
    "top: [a, b, c]\nflow: {x: 1, y: [true, False, .inf]}\n",
]


def reference(text: str) -> tuple[object, dict, dict, list[Problem]]:
    """PyYAML's own composer, every location kept: what the loader used to do."""
    locations: dict = {}
    texts: dict = {}
    problems: list[Problem] = []
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    data = Walker("f.yaml", locations, texts, problems).value(node, ())
    return data, locations, texts, problems


@pytest.mark.parametrize("text", DOCUMENTS)
def test_events_build_what_the_composed_nodes_give(text: str) -> None:
    locations: dict = {}
    texts: dict = {}
    problems: list[Problem] = []
    data = EventBuilder("f.yaml", locations, texts, problems).build(text)
    assert (data, locations, texts, problems) == reference(text)


@pytest.mark.parametrize("text", [*DOCUMENTS, "base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n"])
def test_parse_text_keeps_shallow_lines_and_finds_the_deeper_ones(text: str) -> None:
    source = YamlSource("f.yaml")
    parse_text(text, source)
    data, locations, texts, problems = reference(text)
    assert (source.data, source.texts, source.problems) == (data, texts, problems)
    assert all(len(path) <= SHALLOW for path in source.locations.shallow)
    assert {path: source.locations.get(path) for path in locations} == locations


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x\n", "a:\n  <<: {b: 1}\n", "? [k]\n: v\n", "a: !!set {x}\n", "--- 1\n--- 2\n"],
)
def test_what_the_events_do_not_handle_is_left_to_the_node_walker(text: str) -> None:
    with pytest.raises(Unsupported):
        EventBuilder("f.yaml", {}, {}, []).build(text)


def test_a_large_map_keeps_no_line_below_the_devices_until_one_is_asked_for(tmp_path) -> None:
    tags = "".join(f"      - name: t{i}\n        address: {i}\n" for i in range(50))
    file = tmp_path / "map.yaml"
    file.write_text(f"devices:\n  - name: d\n    tags:\n{tags}", encoding="utf-8")
    source = load_yaml(str(file), keep_text=lambda path: False)
    assert source.texts == {}  # the addresses' texts were not asked for
    assert source.locations.shallow[("devices", 0, "tags")] == (str(file), 3)
    assert len(source.locations.shallow) == 5
    assert source.locations.get(("devices", 0, "tags", 49, "address")) == (str(file), 103)


def test_a_syntax_error_is_reported_in_pyyaml_words() -> None:
    source = YamlSource("f.yaml")
    parse_text("a: b: c\n", source)
    assert source.data is None
    assert source.problems == [
        Problem("f.yaml", 1, "", "invalid YAML: mapping values are not allowed here")
    ]


def test_lines_inside_one_device_then_inside_all(tmp_path) -> None:
    tags = "".join(f"      - name: t{i}\n        address: {i}\n" for i in range(3))
    device = "  - name: d{n}\n    tags:\n" + tags
    file = tmp_path / "map.yaml"
    file.write_text("devices:\n" + device.format(n=0) + device.format(n=1), encoding="utf-8")
    source = load_yaml(str(file))
    locations = source.locations
    assert locations.get(("devices", 0, "tags", 2, "address")) == (str(file), 9)
    assert locations._one is not None
    assert locations._full is None
    assert ("devices", 1, "tags", 0) not in locations._one[1]
    assert locations.get(("devices", 1, "tags", 0, "name")) == (str(file), 12)
    assert locations._full is not None
