"""Modbus tag-map models: a Modbus device and its tags (the shared fields are the core's
`TagFields` / `DeviceFields`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from gateway.collectors.modbus.endpoint import parse_endpoint
from gateway.collectors.modbus.types import ByteOrder, DataType, Space
from gateway.config.durations import Duration
from gateway.config.models import DeviceFields, TagFields


def text_encoding(value: str, dtype: DataType | None) -> str:
    """A string tag's `encoding`: a text codec Python knows; only on type string (a value set
    on another type would be silently ignored)."""
    if dtype is not DataType.STRING:
        raise ValueError("encoding is only used with type string")
    try:
        "A".encode(value)
    except LookupError:
        raise ValueError(
            f"unknown text encoding {value!r} (e.g. utf-8, gbk, gb18030, latin-1, shift_jis)"
        ) from None
    return value


class ModbusTag(TagFields):
    """One value read from a Modbus device."""

    space: Space = Field(
        description="register space: coil, discrete_input, input_register, holding_register"
    )
    address: int = Field(ge=0, le=65535, description="0-based protocol address")
    type: DataType | None = Field(
        None, description="data type; default bool for coils and discrete inputs, else uint16"
    )
    bit: int | None = Field(None, ge=0, le=15, description="bit index (0 = LSB) for type bit")
    length: int | None = Field(
        None, ge=1, le=125, description="registers of a string (two characters each)"
    )
    encoding: str | None = Field(
        None,
        description="text encoding of a string's bytes (gbk, latin-1, shift_jis, ...); "
        "default utf-8",
    )
    byte_order: ByteOrder | None = Field(None, description="overrides the device's byte_order")

    @field_validator("encoding")
    @classmethod
    def _known_text_encoding(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if "type" not in info.data:  # the type itself is invalid (reported there)
            return text_encoding(value, DataType.STRING)
        return text_encoding(value, info.data["type"])

    @property
    def dtype(self) -> DataType:
        """The declared type, or the default for the space."""
        if self.type is not None:
            return self.type
        return DataType.BOOL if self.space.is_bit else DataType.UINT16


class ModbusDevice(DeviceFields):
    """A Modbus device: one unit id behind a Modbus TCP endpoint, on a serial line or behind a
    serial device server (RTU over TCP)."""

    protocol: Literal["modbus"] = "modbus"
    endpoint: str = Field(
        description="modbus+tcp://host:port (port default 502); "
        "modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&stopbits=1&bytesize=8 (these are "
        "the defaults); modbus+ascii:///dev/ttyUSB0?...; modbus+rtu-tcp://host:port?... "
        "(RTU frames over TCP, the query describes the line behind the server)"
    )
    unit_id: int = Field(
        1,
        ge=0,
        le=255,
        description="Modbus unit (slave) id; on a bus (serial, RTU over TCP) 1..247",
    )
    byte_order: ByteOrder = Field(ByteOrder.ABCD, description="default for multi-byte tags")
    max_gap: int = Field(
        0, ge=0, le=124, description="unused registers a read may bridge to save a request"
    )
    max_registers: int = Field(125, ge=1, le=125, description="registers per read request")
    measurement: str = Field("modbus", min_length=1, description="default measurement")
    tags: list[ModbusTag] = Field(default_factory=list)
    pause: Duration = Field(
        0.0,
        ge=0,
        description="silence on the bus after each exchange with this device, before the next "
        "request (serial lines, RTU over TCP)",
    )
    turnaround: Duration = Field(
        0.005,
        ge=0,
        description="the device's typical time to answer a request; used only by "
        "`gateway plan`'s wire-time estimate of a bus",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_parses(cls, value: str) -> str:
        parse_endpoint(value)
        return value
