"""The CSV columns of Modbus tags (`tags_csv:`): those every tag has, plus the register's
space, address, type, bit, length, byte order and text encoding."""

from __future__ import annotations

from gateway.config.csvtags import COMMON, Columns

_ORDER = (
    "name",
    "space",
    "address",
    "type",
    "bit",
    "length",
    "byte_order",
    "unit",
    "scan",
    "heartbeat",
    "measurement",
    "field",
    "description",
    "encoding",
)

#: column -> tag path, in the order tag lists are written (simulators/export.py)
COLUMNS = {
    **{name: COMMON.get(name, (name,)) for name in _ORDER},
    **{name: where for name, where in COMMON.items() if name not in _ORDER},
}
REQUIRED = ("name", "space", "address")
MODBUS_COLUMNS = Columns(COLUMNS, REQUIRED)
