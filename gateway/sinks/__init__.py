"""Sinks: where encoded line-protocol lines are sent. See README.md."""

from typing import TYPE_CHECKING, Any

from gateway.sinks.base import Sink
from gateway.sinks.file import FileSink
from gateway.sinks.lineprotocol import Precision, encode_lines, parse_line
from gateway.sinks.memory import MemorySink
from gateway.sinks.stdout import StdoutSink

__all__ = [
    "FileSink",
    "InfluxDBSink",
    "MemorySink",
    "Precision",
    "Sink",
    "StdoutSink",
    "encode_lines",
    "parse_line",
]

if TYPE_CHECKING:
    from gateway.sinks.influxdb import InfluxDBSink


def __getattr__(name: str) -> Any:
    """`InfluxDBSink` is imported when first used: its HTTP client costs about 24 MB of
    memory, which `gateway check` and a gateway writing files never need."""
    if name == "InfluxDBSink":
        from gateway.sinks.influxdb import InfluxDBSink

        return InfluxDBSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
