"""The committed JSON Schema of tag maps matches the models."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.config.schema import render, tagmap_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "mappings" / "tagmap.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    assert committed == render(), (
        "mappings/tagmap.schema.json differs from the models: "
        "run `python -m gateway.config.schema` and commit the result"
    )


def test_schema_describes_a_tag_map() -> None:
    schema = tagmap_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "plc-gateway tag map"
    assert set(schema["properties"]) == {"devices", "sinks", "buffer", "health", "run"}
    assert schema["additionalProperties"] is False
    tag = schema["$defs"]["ModbusTag"]
    assert {"name", "space", "address"} <= set(tag["required"])
    assert json.loads(render()) == schema


def test_tags_csv_accepts_one_name_or_a_list() -> None:
    tags_csv = tagmap_json_schema()["$defs"]["ModbusDevice"]["properties"]["tags_csv"]
    assert {branch["type"] for branch in tags_csv["anyOf"]} == {"string", "array"}
