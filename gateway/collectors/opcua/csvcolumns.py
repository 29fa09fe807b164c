"""The CSV columns of OPC UA tags (`tags_csv:`): those every tag has, plus the node id or
browse path and how the node is monitored."""

from __future__ import annotations

from gateway.config.csvtags import Columns

OPCUA_COLUMNS = Columns.extend(
    (
        "node",
        "browse_path",
        "mode",
        "sampling_interval",
        "queue_size",
        "timestamp",
        "array_length",
    ),
    (),
)
