"""Warnings: valid tag maps that probably do not do what was meant (`gateway check` exits 0).

Each warning is located like a problem, `file:line path: warning: message`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_tagmaps

HEAD = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    tags:
"""


def tags(*lines: str) -> str:
    """HEAD plus one flow-style tag per line (tags[0] at line 5)."""
    return HEAD + "".join(f"      - {{{line}}}\n" for line in lines)


def warnings_of(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    config = load_tagmaps([tmp_path], env={})
    return [str(w).replace(f"{tmp_path}/", "") for w in config.warnings]


def test_modicon_notation_addresses_are_warned_with_the_zero_based_address(tmp_path):
    text = tags(
        "name: a, space: holding_register, address: 40001",
        "name: b, space: input_register, address: 30011, type: float32",
        "name: c, space: discrete_input, address: 10008",
        "name: d, space: input_register, address: 40001",  # not 3x: no warning
        "name: e, space: holding_register, address: 39999",
        "name: f, space: holding_register, address: 49999",
    )
    assert warnings_of(tmp_path, {"map.yaml": text}) == [
        "map.yaml:5 devices[0].tags[0].address: warning: 40001 looks like Modicon 4x "
        "notation, where holding register 40001 is address 0: address is 0-based, so "
        "this is probably address: 0",
        "map.yaml:6 devices[0].tags[1].address: warning: 30011 looks like Modicon 3x "
        "notation, where input register 30001 is address 0: address is 0-based, so "
        "this is probably address: 10",
        "map.yaml:7 devices[0].tags[2].address: warning: 10008 looks like Modicon 1x "
        "notation, where discrete input 10001 is address 0: address is 0-based, so "
        "this is probably address: 7",
        "map.yaml:10 devices[0].tags[5].address: warning: 49999 looks like Modicon 4x "
        "notation, where holding register 40001 is address 0: address is 0-based, so "
        "this is probably address: 9998",
    ]


def test_modicon_warning_names_the_csv_column(tmp_path):
    text = "devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n    tags_csv: t.csv\n"
    csv = "name,space,address\na,holding_register,40101\n"
    assert warnings_of(tmp_path, {"map.yaml": text, "t.csv": csv}) == [
        "t.csv:2 devices[0].tags[0].address: warning: 40101 looks like Modicon 4x "
        "notation, where holding register 40001 is address 0: address is 0-based, so "
        "this is probably address: 100 (column address)",
    ]


SINKS = "sinks:\n  precision: {precision}\n"


def test_scan_rates_finer_than_the_precision_are_warned_once_per_rate(tmp_path):
    text = tags(
        "name: a, space: coil, address: 0, scan: 500ms",
        "name: b, space: coil, address: 1, scan: 0.5",  # same rate, same scan: no repeat
        "name: c, space: coil, address: 2, scan: fast",
        "name: d, space: coil, address: 3",
        "name: e, space: coil, address: 4, scan: 1s",
    ).replace("    tags:\n", "    scan_rate: 2s\n    scan_groups: {fast: 250ms}\n    tags:\n")
    found = warnings_of(tmp_path, {"map.yaml": text, "sinks.yaml": SINKS.format(precision="s")})
    message = (
        "warning: scan rate {rate} is finer than the timestamp precision (sinks.precision: s, "
        "in sinks.yaml:2): samples of one series within the same second get the same "
        "timestamp and overwrite each other in InfluxDB; use sinks.precision: ms"
    )
    assert found == [
        "map.yaml:5 devices[0].scan_groups.fast: " + message.format(rate="250ms"),
        "map.yaml:7 devices[0].tags[0].scan: " + message.format(rate="500ms"),
    ]


@pytest.mark.parametrize(
    ("precision", "rate", "warned"),
    [("ms", "0.5ms", True), ("ms", "1ms", False), ("us", "0.5ms", False), (None, "100ms", False)],
)
def test_precision_default_is_ms(tmp_path, precision, rate, warned):
    files = {"map.yaml": tags(f"name: a, space: coil, address: 0, scan: {rate}")}
    if precision:
        files["sinks.yaml"] = SINKS.format(precision=precision)
    assert bool(warnings_of(tmp_path, files)) is warned


def test_check_prints_warnings_and_exits_zero(tmp_path, capsys):
    path = tmp_path / "map.yaml"
    path.write_text(tags("name: a, space: holding_register, address: 40001"))
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "OK: 1 devices, 1 tags in 1 files, 1 warning(s)"
    assert err.splitlines() == [
        f"{path}:5 devices[0].tags[0].address: warning: 40001 looks like Modicon 4x "
        "notation, where holding register 40001 is address 0: address is 0-based, so "
        "this is probably address: 0",
    ]


def test_check_of_a_broken_map_also_lists_its_warnings(tmp_path, capsys):
    path = tmp_path / "map.yaml"
    path.write_text(
        tags("name: a, space: holding_register, address: 40001", "name: b, space: coil")
    )
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:5 devices[0].tags[0].address: warning: 40001 looks like Modicon 4x "
        "notation, where holding register 40001 is address 0: address is 0-based, so "
        "this is probably address: 0",
        f"{path}:6 devices[0].tags[1].address: required",
        "1 problem(s) found, 1 warning(s).",
    ]


def test_plan_logs_each_warning_once(tmp_path, capsys, caplog):
    path = tmp_path / "map.yaml"
    path.write_text(tags("name: a, space: holding_register, address: 40001"))
    with caplog.at_level(logging.WARNING):
        assert main(["plan", str(path)]) == 0
    logged = [r for r in caplog.records if "Modicon" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in logged] == [
        (
            logging.WARNING,
            f"{path}:5 devices[0].tags[0].address: warning: 40001 looks like Modicon 4x "
            "notation, where holding register 40001 is address 0: address is 0-based, so "
            "this is probably address: 0",
        )
    ]
