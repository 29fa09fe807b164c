"""Sinks: where encoded line-protocol lines are sent. See README.md."""

from gateway.sinks.base import Sink
from gateway.sinks.file import FileSink
from gateway.sinks.influxdb import InfluxDBSink
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
