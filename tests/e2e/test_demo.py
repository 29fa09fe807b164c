"""`make demo DURATION=20` exits 0, leaves the run's own data file, shows alarms by name and
units, and prints no Python warning."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from gateway.sinks.lineprotocol import parse_line

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_make_demo_runs_and_leaves_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_V2_")}
    result = subprocess.run(
        ["make", "-s", "demo", "DURATION=20", f"DEMO_ARGS=--data-dir {tmp_path}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    files = [f.name for f in tmp_path.glob("*.lp")]
    assert len(files) == 1, files  # the run's own file
    assert re.fullmatch(r"demo-\d{8}T\d{6}\.lp", files[0]), files
    lines = [ln for f in tmp_path.glob("*.lp") for ln in f.read_text().splitlines()]
    parsed = [parse_line(ln) for ln in lines]
    measurements = {m for m, _, _, _ in parsed}
    assert measurements == {"cell", "feeder", "rectifier", "gateway_stats"}
    devices = {tags["device"] for m, tags, _, _ in parsed if m != "gateway_stats"}
    assert len(devices) == 25
    assert "plc-gateway demo" in result.stdout  # the live view printed
    # the storm's anode effects by name (from the maps' alarm bits), the units in the headers
    assert re.search(r"cell\d\d  raised ANODE_EFFECT", result.stdout), result.stdout[-3000:]
    assert re.search(r"\n +V +degC +wt% +kg +samples/s +samples\n", result.stdout)
    assert not re.search(r"\w+Warning\b", result.stdout + result.stderr)  # e.g. setuptools
    # both collectors at work: cells over Modbus, feeders and the rectifier over OPC UA, with
    # good values (not only the BAD samples of a session that never came up)
    endpoints = {tags["endpoint"] for m, tags, _, _ in parsed if "endpoint" in tags}
    assert {e.split("://")[0] for e in endpoints} == {"modbus+tcp", "opc.tcp"}, endpoints
    for measurement, field in (("cell", "bath_temp"), ("feeder", "hopper_weight")):
        good = [
            tags["device"]
            for m, tags, fields, _ in parsed
            if m == measurement and fields.get(f"{field}_quality") == 0 and field in fields
        ]
        assert len(set(good)) == 12, (measurement, sorted(set(good)))
    assert any(m == "rectifier" and "line_current" in f for m, _, f, _ in parsed)
