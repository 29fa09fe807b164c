"""What `gateway once` and `gateway probe` take for a wrongly decoded number."""

from __future__ import annotations

import re
import struct

import pytest

from gateway import plausibility
from gateway.plausibility import implausible


def float32(hex_bits: str) -> float:
    return float(struct.unpack(">f", bytes.fromhex(hex_bits))[0])


@pytest.mark.parametrize(
    ("value", "limits", "why"),
    [
        (float("nan"), None, "NaN"),
        (float("-inf"), None, "infinite"),
        (float32("00EB449A"), None, "|x| < 1e-15"),  # 1234.5 CDAB read one register late
        (float32("0000449A"), None, "|x| < 1e-15"),  # a float32 denormal
        # 1234.5 CDAB read as ABCD (8607918080.0): only a range tells it from a real value
        (float32("5000449A"), (0.0, 5000.0), "outside 0..5000"),
        (2.5e16, None, "|x| > 1e+15"),
        (-3.0, (0.0, 5000.0), "outside 0..5000"),
        (70000, (0.0, 5000.0), "outside 0..5000"),
    ],
)
def test_wrong_decodings_are_named(value, limits, why):
    assert implausible(value, limits) == why


@pytest.mark.parametrize(
    ("value", "limits"),
    [
        (1234.5, None),
        (0.0, None),
        (-0.0, None),
        (1234.5, (0.0, 5000.0)),
        (0, (0, 0)),
        (2**63, None),
        (True, (5.0, 6.0)),
        ("text", (0.0, 1.0)),
        (None, None),
        (1e-15, None),
    ],
)
def test_plausible_values_have_nothing_said(value, limits):
    assert implausible(value, limits) == ""


def test_the_module_docstring_tells_true_examples():
    """Every `flow=` the docstring says gives itself away is flagged without a range; every
    one it says needs a range is not flagged without one (and is with the tag's range)."""
    doc = " ".join(plausibility.__doc__.split())
    alone = re.findall(r"gives itself away: `flow=([^`]+)`", doc)
    ranged = re.findall(r"needs the tag's range: `flow=([^`]+)`", doc)
    assert alone, doc
    assert ranged, doc
    assert all(implausible(float(v)) for v in alone), alone
    assert [implausible(float(v)) for v in ranged] == [""] * len(ranged)
    assert all(implausible(float(v), (0.0, 5000.0)) for v in ranged), ranged
