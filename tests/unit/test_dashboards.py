"""The provisioned Grafana dashboards read what the gateway writes: every measurement, field
and tag key of every Flux query is one the bundled tag maps produce (cells over Modbus, feeders
and the rectifier over OPC UA) or one of the gateway's own `gateway_stats`."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.collectors import registry
from gateway.config import load_tagmaps
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.telemetry.metrics import collect, stats_lines
from gateway.testing import memory_forwarders
from simulators.catalog import CATALOG, Kind
from simulators.opcua_nodes import value_names
from tests.fluxlogic import mixed_logic
from tests.fluxnames import (
    Query,
    Written,
    dashboard_queries,
    lines_written,
    plant_written,
    problems,
    walk_panels,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
PROVISIONED = ROOT / "deploy/grafana/provisioning/datasources/influxdb.yaml"
PANEL_TYPES = {"row", "timeseries", "state-timeline", "heatmap", "stat", "table"}
BUCKET = 'bucket: "${bucket}"'
#: `range(start: .., stop: ..)` after from(), or the same arguments of schema.tagValues()
RANGE = r"start: v\.timeRangeStart,\s*stop: v\.timeRangeStop"


def boards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def all_queries() -> list[Query]:
    return [q for name, board in boards().items() for q in dashboard_queries(name, board)]


def data_queries() -> list[Query]:
    """The queries that read the bucket (all but the variable listing the buckets)."""
    return [q for q in all_queries() if not q.text.startswith("buckets()")]


async def _written() -> Written:
    config = load_tagmaps([ROOT / "mappings"], env={})
    connections = registry.compile_all(config.devices)
    assert {c.protocol for c in connections} == {"modbus", "opcua"}
    plant = plant_written(t.point for c in connections for t in c.tag_plans())
    gateway = Gateway(connections, memory_forwarders(MemorySink()))
    # `gateway run --workers N` tags each worker's stats lines with its index
    lines = stats_lines(collect(gateway, 0), 0, 1, (("worker", "0"),))
    return {**plant, **lines_written(lines)}


@pytest.fixture(scope="module")
def written() -> Written:
    """What the gateway running the bundled tag maps writes, both collectors and its stats
    (the collectors are built, never connected; building one needs a running loop)."""
    return asyncio.run(_written())


def test_the_three_dashboards_are_valid_json_with_unique_uids_and_titles():
    loaded = boards()
    titles = [b["title"] for b in loaded.values()]
    uids = [b["uid"] for b in loaded.values()]
    assert {"Potline overview", "Cell detail", "Gateway health"} <= set(titles)
    assert len(set(titles)) == len(titles)
    assert len(set(uids)) == len(uids)
    for name, board in loaded.items():
        assert board["schemaVersion"] >= 36, name
        panels = list(walk_panels(board["panels"]))
        ids = [p["id"] for p in panels]
        assert len(set(ids)) == len(ids), name
        for panel in panels:
            assert panel["type"] in PANEL_TYPES, (name, panel["title"])
            assert set(panel["gridPos"]) == {"x", "y", "w", "h"}, (name, panel["title"])


def test_every_panel_annotation_and_variable_reads_the_provisioned_influxdb():
    (source,) = [
        s for s in yaml.safe_load(PROVISIONED.read_text())["datasources"] if s["name"] == "InfluxDB"
    ]
    expected = {"type": "influxdb", "uid": source["uid"]}
    assert source["type"] == "influxdb"
    assert source["jsonData"]["version"] == "Flux"
    for name, board in boards().items():
        users = [p for p in walk_panels(board["panels"]) if p["type"] != "row"]
        users += board["annotations"]["list"]
        users += [v for v in board["templating"]["list"] if v["type"] == "query"]
        for user in users:
            where = (name, user.get("title") or user["name"])
            assert user["datasource"] == expected, where
            for target in user.get("targets", []):
                assert target.get("datasource", expected) == expected, where
        for panel in users:
            refs = [t["refId"] for t in panel.get("targets", [])]
            assert len(set(refs)) == len(refs), (name, panel.get("title"))


def test_every_query_reads_the_bucket_variable_within_the_dashboard_time_range():
    queries = data_queries()
    assert len(queries) >= 40
    for query in queries:
        # each read of the bucket is bounded by the dashboard's time range
        reads = len(re.findall(r"\bfrom\(|schema\.tagValues\(", query.text))
        assert reads == len(re.findall(RANGE, query.text)), query.where
        buckets = re.findall(r"bucket\s*:\s*[^,)\n]+", query.text)
        assert len(buckets) == reads, query.where
        assert set(buckets) == {BUCKET}, (query.where, buckets)
    for name, board in boards().items():
        (bucket,) = [v for v in board["templating"]["list"] if v["name"] == "bucket"]
        assert bucket["query"].startswith("buckets()"), name


def test_every_measurement_field_and_tag_key_of_every_query_is_written(written):
    found = [line for q in data_queries() for line in problems(q, written)]
    assert found == []
    read = {m for q in data_queries() for m in re.findall(r'_measurement == "(\w+)"', q.text)}
    assert read == {"cell", "feeder", "rectifier", "gateway_stats"}


def test_the_cell_variable_lists_the_device_tags_of_the_cell_measurement():
    (cell,) = [v for v in boards()["cell.json"]["templating"]["list"] if v["name"] == "cell"]
    assert "schema.tagValues(" in cell["query"]
    assert 'tag: "device"' in cell["query"]
    assert 'r._measurement == "cell"' in cell["query"]


GOOD = (
    'import "influxdata/influxdb/schema"\n'
    'cells = from(bucket: "${bucket}")\n'
    "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
    '  |> filter(fn: (r) => r._measurement == "cell" and (r._field == "cell_voltage"'
    " or r._field =~ /^(bath_temp|wall_temp)$/ or r._field =~ /^alarm_/))\n"
    '  |> filter(fn: (r) => r.device == "cell01" and r["potline"] == "1")\n'
    '  |> group(columns: ["device", "cell"])\n'
    "  |> map(fn: (r) => ({r with label: r.device}))\n"
    'feeders = from(bucket: "${bucket}")\n'
    "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
    '  |> filter(fn: (r) => r._measurement == "feeder" and r._field == "hopper_level")\n'
    "union(tables: [cells, feeders])\n"
    '  |> keep(columns: ["_time", "_value", "label", "site"])\n'
    'schema.tagValues(bucket: "${bucket}", tag: "device", predicate: (r) => true)'
)
DRIFTS = {
    "measurement": ('r._measurement == "cell"', 'r._measurement == "cells"', "'cells'"),
    "field": ('r._field == "cell_voltage"', 'r._field == "cell_votlage"', "'cell_votlage'"),
    "field in a regex": ("bath_temp|wall_temp", "bath_temp|wal_temp", "'wal_temp'"),
    "field regex": ("/^alarm_/", "/^alarms_/", "/^alarms_/"),
    "tag in r.tag": ("r.device ==", "r.devise ==", "'devise'"),
    'tag in r["tag"]': ('r["potline"]', 'r["pot_line"]', "'pot_line'"),
    "tag in group()": ('"device", "cell"]', '"device", "cel"]', "'cel'"),
    "tag in keep()": ('"label", "site"]', '"label", "sites"]', "'sites'"),
    "field of another measurement of the query": (
        '"hopper_level"',
        '"bath_temp"',
        "feeder has no field 'bath_temp'",
    ),
    "tag of schema.tagValues": ('tag: "device"', 'tag: "devices"', "'devices'"),
    # `and` binds tighter: without the parentheses the query reads alarm_* of every measurement
    "and with or, unparenthesised": (
        ' and (r._field == "cell_voltage" or r._field =~ /^(bath_temp|wall_temp)$/ or'
        " r._field =~ /^alarm_/))",
        ' and r._field == "cell_voltage" or r._field =~ /^(bath_temp|wall_temp)$/ or'
        " r._field =~ /^alarm_/)",
        "`and` and `or` without parentheses",
    ),
}


def test_the_check_passes_a_synthetic_query_naming_only_written_names(written):
    assert problems(Query("synthetic.json", GOOD), written) == []


@pytest.mark.parametrize("kind", DRIFTS)
def test_the_check_catches_a_misspelled_name_in_a_synthetic_dashboard(written, kind):
    right, wrong, named = DRIFTS[kind]
    assert right in GOOD
    board = {"panels": [{"type": "row", "title": "r", "panels": [
        {"title": "p", "targets": [{"refId": "A", "query": GOOD.replace(right, wrong, 1)}]}
    ]}]}  # fmt: skip
    (query,) = dashboard_queries("synthetic.json", board)
    found = problems(query, written)
    assert any(named in line for line in found), found
    assert all(line.startswith("synthetic.json: panel 'p' A: ") for line in found)


@pytest.mark.parametrize(
    "predicate",
    [
        "r.a == 1 and r.b == 2 or r.c == 3",
        "r.a == 1 or r.b == 2 and r.c == 3",
        "r.a == 1 and (r.b == 2 or r.c == 3 and r.d == 4)",
        "if r.a == 1 and r.b == 2 or r.c == 3 then 1 else 0",
        "r.a == 1 and\n    r.b == 2\n    or r.c == 3",
    ],
)
def test_the_check_refuses_and_with_or_at_one_level(predicate):
    flux = f'from(bucket: "b")\n  |> filter(fn: (r) => {predicate})\n'
    assert mixed_logic(flux) != []


@pytest.mark.parametrize(
    "predicate",
    [
        "r.a == 1 and (r.b == 2 or r.c == 3)",
        "(r.a == 1 and r.b == 2) or r.c == 3",
        'r.a == "x and y or z" and r._field =~ /^(and|or)$/',
        "if r.a == 1 and r.b == 2 then r.c or r.d else false",
        "({a: r.x and r.y, b: r.z or r.w})",
    ],
)
def test_the_check_passes_and_with_or_kept_apart(predicate):
    flux = f'f = (r) => r.z or r.w\nfrom(bucket: "b")\n  |> filter(fn: (r) => {predicate})\n'
    assert mixed_logic(flux) == []


def _stages(flux: str) -> list[str]:
    """The stages of a pipeline, `|>` by `|>`, each on one line without its comments."""
    code = " ".join(line.split("//")[0].strip() for line in flux.splitlines())
    return [stage.strip() for stage in code.split("|>")]


def test_an_anode_effect_under_way_at_the_range_start_is_annotated_from_there():
    # the steps come from difference(keepFirst: true), whose first row has no step (null):
    # that row must not be dropped, its level (1: an effect under way) is a step at _start
    notes = [
        q for q in data_queries() if "annotation" in q.where and "alarm_anode_effect" in q.text
    ]
    assert {q.where.split(":")[0] for q in notes} == {"potline.json", "cell.json"}
    for note in notes:
        stages = _stages(note.text)
        at = stages.index("difference(keepFirst: true)")
        assert stages[at - 1] == 'duplicate(column: "_value", as: "level")', note.where
        step = stages[at + 1]  # before any filter() could drop the first row
        assert step.startswith("map(fn: (r) => ({r with "), note.where
        assert "_value: if exists r._value then r._value else r.level" in step, note.where
        assert "_time: if exists r._value then r._time else r._start" in step, note.where
        assert stages[at + 2] == "filter(fn: (r) => r._value != 0)", note.where
        assert stages[at + 3].startswith("events.duration("), note.where
        assert stages[at + 4] == "filter(fn: (r) => r._value == 1)", note.where


def _decoded_words() -> dict[str, dict[int, str]]:
    """measurement -> mask -> name of the `<measurement>Bits = [...]` tables in the queries."""
    tables: dict[str, dict[int, str]] = {}
    for query in data_queries():
        for measurement, listed in re.findall(r"(\w+)Bits = \[([^\]]*)\]", query.text):
            assert f'r._measurement == "{measurement}" and r._field == "alarms"' in query.text
            bits = {int(m): n for m, n in re.findall(r'\{bit: (\d+), name: "(\w+)"\}', listed)}
            assert tables.setdefault(measurement, bits) == bits, query.where
    return tables


def test_alarm_words_are_decoded_with_the_bit_names_of_the_catalog(written):
    # the words the bundled maps write as integers only (no alarm_<name> field per bit)
    words = {
        measurement: tag
        for measurement, tags in CATALOG.items()
        for tag in tags
        if tag.kind is Kind.BITS
        and tag.name in written[measurement]
        and not any(f.startswith("alarm_") and f != tag.name for f in written[measurement])
    }
    assert set(words) == {"feeder", "rectifier"}
    decoded = _decoded_words()
    assert set(decoded) == set(words)
    for measurement, tag in words.items():
        expected = {1 << bit: name.lower() for bit, name in value_names(tag).items()}
        assert decoded[measurement] == expected, measurement


def test_state_value_mappings_name_the_catalog_states():
    checked = 0
    for name, board in boards().items():
        for panel in walk_panels(board["panels"]):
            fields = {
                (m, f)
                for t in panel.get("targets", [])
                for m, f in re.findall(
                    r'_measurement == "(\w+)" and r._field == "(\w+)"', t["query"]
                )
            }
            enums = [
                tag
                for m, f in fields
                for tag in CATALOG.get(m, ())
                if tag.name == f and tag.kind is Kind.ENUM
            ]
            if not enums:
                continue
            (tag,) = enums
            (mapping,) = panel["fieldConfig"]["defaults"]["mappings"]
            shown = {int(k): v["text"] for k, v in mapping["options"].items()}
            assert shown == value_names(tag), (name, panel["title"])
            checked += 1
    assert checked >= 3


def test_every_cell_the_cell_variable_lists_has_the_feeder_cell_detail_shows():
    # Cell detail reads the feeder of cell `X` as device `X_feeder` (measurement feeder)
    devices = load_tagmaps([ROOT / "mappings"], env={}).devices
    by_measurement = {m: {d.name for d in devices if d.measurement == m} for m in CATALOG}
    assert by_measurement["cell"]
    assert {f"{c}_feeder" for c in by_measurement["cell"]} == by_measurement["feeder"]
    feeder = [
        q for q in dashboard_queries("cell.json", boards()["cell.json"]) if "feeder" in q.text
    ]
    assert feeder
    assert all('r.device == "${cell}_feeder"' in q.text for q in feeder)


def test_the_readme_lists_every_dashboard_with_its_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Dashboards\n", 1)[1].split("\n## ", 1)[0]
    for name, board in boards().items():
        assert f"**{board['title']}** (`{name}`" in section, name
