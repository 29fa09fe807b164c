"""The process model is deterministic: the same seed and the same calls give bit-identical
values, in this process and in another one with a different hash salt."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from simulators.catalog import FeedMode
from simulators.process.plant import Plant

ROOT = Path(__file__).resolve().parents[2]

# (second, action) pairs: every kind of command and fault, in a fixed order
SCRIPT: list[tuple[int, str, tuple[object, ...]]] = [
    (300, "tap", ("cell01",)),
    (600, "inject", ("anode_effect", "cell02")),
    (900, "set_feed_mode", ("cell03", FeedMode.OFF)),
    (1200, "inject", ("feeder_jam", "cell04_feeder")),
    (1500, "inject", ("thermocouple_open", "cell01")),
    (1800, "change_anode", ("cell02",)),
    (2400, "write", ("rectifier", "line_current_sp", 5.5)),
    (3000, "inject", ("rectifier_trip", None)),
    (3300, "reset_rectifier", ()),
    (3600, "inject", ("hopper_empty", "cell01_feeder")),
    (4200, "clear", ("feeder_jam", "cell04_feeder")),
    (4800, "set_feed_mode", ("cell03", FeedMode.AUTO_TIMER)),
    (5400, "clear", ("thermocouple_open", "cell01")),
    (6000, "clear", ("hopper_empty", "cell01_feeder")),
    (7200, "write", ("cell04", "tap_request", True)),
    (8000, "set_feed_mode", ("cell02", FeedMode.MANUAL)),
]


def play(plant: Plant, seconds: int):
    """Run the script; yield every device's values after every step."""
    actions = {at: (name, args) for at, name, args in SCRIPT}
    for second in range(seconds):
        if second in actions:
            name, args = actions[second]
            getattr(plant, name)(*args)
        plant.step(1.0)
        yield [(d, plant.values(d), plant.bad(d)) for d in plant.device_names()]


def test_same_seed_same_calls_give_identical_values_at_every_step():
    hours = 3
    a, b = Plant(cells=4, seed=42), Plant(cells=4, seed=42)
    steps = 0
    for left, right in zip(play(a, hours * 3600), play(b, hours * 3600), strict=True):
        assert left == right, f"diverged at step {steps}"
        steps += 1
    assert steps == hours * 3600
    # the script really did things: taps, anode effects, a trip
    assert a.cells[0].tap_count == 1
    assert a.cells[1].ae_count >= 1
    assert a.cells[2].ae_count >= 1  # fed nothing for over an hour
    assert a.rectifier.energy_kwh == b.rectifier.energy_kwh


def test_a_different_seed_gives_different_noise():
    a, b = Plant(cells=2, seed=1), Plant(cells=2, seed=2)
    differ = 0
    for _ in range(60):
        a.step()
        b.step()
        va, vb = a.cells[0].voltage, b.cells[0].voltage
        assert a.values("cell01")["cell_voltage"] == va
        differ += va != vb
        # same physics: only the noise (and the anodes' ages) differ
        assert abs(va - vb) < 1.0
    assert differ == 60
    assert a.values("rectifier")["line_current"] != b.values("rectifier")["line_current"]


def test_reading_values_does_not_change_the_run():
    a, b = Plant(cells=3, seed=9), Plant(cells=3, seed=9)
    for _ in range(600):
        a.step()
        for device in a.device_names():
            a.values(device)
            a.bad(device)
    for _ in range(600):
        b.step()
    assert all(a.values(d) == b.values(d) for d in a.device_names())


def test_a_long_step_is_split_into_the_same_one_second_steps():
    a, b = Plant(cells=2, seed=3), Plant(cells=2, seed=3)
    for _ in range(120):
        a.step(5.0)
    for _ in range(600):
        b.step(1.0)
    assert a.t == b.t == 600.0
    assert all(a.values(d) == b.values(d) for d in a.device_names())


DIGEST = """
import hashlib
from simulators.process.plant import Plant
p = Plant(cells=3, product=["Nd", "PrNd", "GdFe"], seed=11)
p.inject("anode_effect", "cell02")
for _ in range(900):
    p.step(1.0)
print(hashlib.sha256(repr([p.values(d) for d in p.device_names()]).encode()).hexdigest())
"""


def test_values_do_not_depend_on_the_hash_salt_of_the_process():
    digests = set()
    for salt in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": salt, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", DIGEST], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    here = Plant(cells=3, product=["Nd", "PrNd", "GdFe"], seed=11)
    here.inject("anode_effect", "cell02")
    for _ in range(900):
        here.step(1.0)
    text = repr([here.values(d) for d in here.device_names()])
    assert digests == {hashlib.sha256(text.encode()).hexdigest()}
