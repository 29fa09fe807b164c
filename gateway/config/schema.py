"""The JSON Schema of tag-map files, generated from the models.

`python -m gateway.config.schema [output]` writes it (default: `mappings/tagmap.schema.json`
of this checkout). Editors use it for completion and checking, e.g. with the YAML language
server: `# yaml-language-server: $schema=tagmap.schema.json` as the first line of a tag map.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, create_model

from gateway.collectors.registry import device_union
from gateway.config.models import TagMapFile

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "plc-gateway tag map"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "mappings" / "tagmap.schema.json"


def tagmap_json_schema() -> dict[str, Any]:
    """The schema of one tag-map file; `devices` items are the union of every registered
    protocol's device model (discriminated on `protocol`)."""
    devices: Any = list.__class_getitem__(device_union())
    model = create_model(
        "TagMapFile",
        __base__=TagMapFile,
        __doc__=TagMapFile.__doc__,
        devices=(devices, Field(default_factory=list)),
    )
    schema = model.model_json_schema()
    return {"$schema": SCHEMA_DIALECT, **schema, "title": TITLE}


def render() -> str:
    """The schema file's exact text: sorted keys, indent 2, trailing newline."""
    return json.dumps(tagmap_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema file; the optional argument is the output path."""
    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else DEFAULT_OUTPUT
    output.write_text(render(), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
