"""The one place that configures logging handlers."""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO") -> None:
    """Log to stderr; quiet the protocol libraries, which log every failed poll."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("pymodbus", "asyncua", "influxdb_client"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
