"""End to end on one serial line: `gateway run` (a real process) reads the 12 cell PLCs of the
simulated plant (a real process) over Modbus RTU on a socat pty pair paced at 19200 baud and
writes them into a real VictoriaMetrics; on a clean line and on a line that spoils 5 % of the
answers, every value written is the value the plant serves over Modbus TCP.

The plant runs at speed 0.001: after its first step its registers do not change for the
whole test, so every read of a register has one right answer, the one `gateway once` gets
over Modbus TCP before and after the run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simulators.export import tag_rows
from tests.e2e.counting import influx_env
from tests.e2e.rtuplant import LINE, RtuPlant, cell_map, lines_of, samples, sinks, values_by_device
from tests.e2e.rtuplant import written as written_in
from tests.processes import start_gateway

pytestmark = pytest.mark.e2e

CELLS = {f"cell{n:02d}" for n in range(1, 13)}
FROZEN = ("--speed", "0.001")


async def once(path: Path) -> dict[str, dict[str, Any]]:
    """What `gateway once` reads (device -> field -> value); every tag GOOD."""
    proc = await start_gateway("once", str(path))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return values_by_device(lines_of(out.decode()))


async def run_on_the_line(victoria, tmp_path: Path, line: tuple[str, str], *plant_args: str, **kw):
    """Reference over TCP, `gateway run` over RTU for 5 s, reference again; returns (the
    reference, the lines the file sink wrote, the database's export once it has them all)."""
    master, device = line
    data = tmp_path / "data"
    plant = await RtuPlant.start(*FROZEN, "--modbus-rtu", device, *plant_args)
    try:
        endpoints = await asyncio.wait_for(plant.endpoints, 60)
        tcp = cell_map(tmp_path / "tcp.yaml", endpoints["modbus+tcp"])
        reference = await once(tcp)
        rtu = cell_map(
            tmp_path / "rtu.yaml", f"modbus+rtu://{master}?{LINE}", extra=sinks(data), **kw
        )
        proc = await start_gateway("run", str(rtu), "--duration", "5", env=influx_env(victoria))
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-4000:]
        assert await once(tcp) == reference, "the plant moved: the test needs it frozen"
    finally:
        await plant.stop(patience=0)  # frozen: it would not stop before its next step
    lines = written_in(data)
    voltages = sum(1 for _, _, f, _ in lines if "cell_voltage" in f)
    export = await victoria.wait_for_series_async(
        lambda s: sum(map(len, samples(s, "cell_cell_voltage").values())) == voltages, 30
    )
    return reference, lines, export


def database_values(export: list[dict[str, Any]]) -> dict[tuple[str, str], set[float]]:
    """(device, field) -> the values the database holds (BAD samples hold none; strings are
    not stored as values: `product` is left out)."""
    out: dict[tuple[str, str], set[float]] = {}
    for series in export:
        name = series["metric"]["__name__"]
        if name.endswith(("_quality", "_reason")) or name == "cell_product":
            continue
        key = (series["metric"]["device"], name.removeprefix("cell_"))
        out.setdefault(key, set()).update(series["values"])
    return out


async def test_twelve_cells_on_one_19200_baud_line_into_victoria(victoria, tmp_path, serial_line):
    # every sample must be GOOD: a timeout generous for a loaded machine (what the line
    # carries is tested here, not how fast the simulated units answer)
    reference, lines, export = await run_on_the_line(victoria, tmp_path, serial_line, timeout="3s")
    assert set(reference) == CELLS
    # every register of the bundled cell map and its alarm bits
    assert all(len(fields) == len(tag_rows("cell")) for fields in reference.values())

    # every cell, every tag, GOOD, at least twice (5 s at 1 s, a loaded machine)
    got = values_by_device(lines)
    assert set(got) == CELLS
    qualities = {v for _, _, f, _ in lines for k, v in f.items() if k.endswith("_quality")}
    assert qualities == {0}
    for cell in CELLS:
        assert len(samples(export, "cell_bath_temp")[cell]) >= 2
        # the very fields, of the very types (int, float, bool, str), as over Modbus TCP
        assert {k: type(v) for k, v in got[cell].items()} == {
            k: type(v) for k, v in reference[cell].items()
        }
    # every value written, in the file and in the database, is the one the PLC serves
    for _, tags, fields, _ in lines:
        for key, value in fields.items():
            if not key.endswith("_quality"):
                assert value == reference[tags["device"]][key], (tags, key)
    stored = database_values(export)
    assert {device for device, _ in stored} == CELLS
    assert {field for _, field in stored} == set(reference["cell01"]) - {"product"}
    for (device, field), values in stored.items():
        assert values == {float(reference[device][field])}, (device, field)
    # and plausible for an Nd cell at nominal load
    for cell in CELLS:
        assert 8.0 <= reference[cell]["cell_voltage"] <= 11.0
        assert 1000.0 <= reference[cell]["bath_temp"] <= 1100.0
        assert reference[cell]["cell_current"] == 6.0
        assert reference[cell]["product"] == "Nd"


async def test_a_line_that_spoils_5_percent_of_answers_recovers_and_writes_no_wrong_value(
    victoria, tmp_path, serial_line
):
    # no retries: every spoiled answer becomes BAD samples, which the test can see
    reference, lines, export = await run_on_the_line(
        victoria,
        tmp_path,
        serial_line,
        *("--modbus-corrupt", "0.05", "--seed", "3"),
        scan_rate="500ms",
        timeout="300ms",
        retries=0,
    )
    good = bad = 0
    first_bad = None
    last_good: dict[str, int] = {}
    reasons = set()
    for _, tags, fields, stamp in lines:
        device = tags["device"]
        for key, quality in fields.items():
            if not key.endswith("_quality"):
                continue
            tag = key.removesuffix("_quality")
            if quality == 0:
                good += 1
                assert fields[tag] == reference[device][tag], (device, tag, stamp)
                last_good[device] = max(last_good.get(device, 0), stamp)
            else:
                bad += 1
                assert tag not in fields  # no value for a tag that was not read right
                assert fields.get(f"{tag}_reason"), (device, tag, fields)
                reasons.add(fields[f"{tag}_reason"])
                first_bad = stamp if first_bad is None else min(first_bad, stamp)
    assert bad > 0  # the line did spoil answers
    assert first_bad is not None
    # and most reads still got through (here about 6 GOOD to 1 BAD: a spoiled answer leaves the
    # rest of its scan unread, as a silent unit does)
    assert good >= 2 * bad, (good, bad, reasons)
    # the bus recovered by itself: every cell read GOOD after the first spoiled answer
    assert set(last_good) == CELLS
    assert all(stamp > first_bad for stamp in last_good.values()), (first_bad, last_good)
    # the database holds exactly the values the PLC serves, nothing else
    for (device, field), values in database_values(export).items():
        assert values == {float(reference[device][field])}, (device, field)
