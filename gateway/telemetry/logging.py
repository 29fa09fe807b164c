"""The one place that configures logging handlers."""

from __future__ import annotations

import logging
import sys


def configure(level: str = "INFO", who: str = "") -> None:
    """Log to stderr; quiet the protocol libraries, which log every failed poll. `who` names
    the process in every line (`worker 1`: the workers of one gateway share its stderr)."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)-7s {f'[{who}] ' if who else ''}%(name)s: %(message)s",
    )
    for noisy in ("pymodbus", "asyncua", "influxdb_client"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
