"""Value types for the options of `python -m simulators`: each turns the text of one option
into its value, or raises argparse.ArgumentTypeError saying what was expected."""

from __future__ import annotations

import argparse
import math

from gateway.config.durations import parse_duration


def _number(text: str, kind: type[int] | type[float]) -> float:
    """The number `text` spells, or NaN (which every range check refuses)."""
    try:
        return kind(text)
    except ValueError:
        return math.nan


def port(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, not {text!r}")
    return int(value)


def baud(text: str) -> int:
    value = _number(text, int)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"baud rate must be a positive whole number, not {text!r}")
    return int(value)


def fraction(text: str) -> float:
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"fraction must be between 0 and 1, not {text!r}")
    return value


def speed(text: str) -> float | None:
    """Simulated seconds per wall second; None for 'max' (as fast as possible)."""
    if text == "max":
        return None
    value = _number(text, float)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be a positive number or 'max', not {text!r}")
    return value


def duration(text: str) -> float:
    """Seconds, from `600`, `10m`, `1.5s` ..."""
    try:
        return float(parse_duration(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def step(text: str) -> float:
    """The plant's longest step: more than 0 and at most 10 s (`1`, `10s`)."""
    seconds = duration(text)
    if not 0.0 < seconds <= 10.0:
        raise argparse.ArgumentTypeError(f"step must be more than 0 and at most 10 s, not {text!r}")
    return seconds


PRODUCTS = ("Nd", "PrNd", "GdFe")


def products(text: str) -> list[str]:
    """One product (`Nd`) or several, comma-separated, given to the cells in turn."""
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in PRODUCTS:
            raise argparse.ArgumentTypeError(
                f"product must be {', '.join(PRODUCTS)} or a comma-separated list of them, "
                f"not {text!r}"
            )
    return names
