"""The CSV columns of OPC UA tags (`tags_csv:`): those every tag has, plus the node id or
browse path, how the node is monitored, and its data-change filter."""

from __future__ import annotations

from gateway.config.csvtags import COMMON, Columns

_OWN = (
    "node",
    "browse_path",
    "mode",
    "sampling_interval",
    "queue_size",
    "timestamp",
    "array_length",
)

OPCUA_COLUMNS = Columns(
    {
        **COMMON,
        **{name: (name,) for name in _OWN},
        "filter_absolute": ("filter", "absolute"),
        "filter_percent": ("filter", "percent"),
    },
    ("name",),
)
