"""OPC UA Variant -> the value written to InfluxDB, with one converter chosen per node at start.

What each supported VariantType becomes (InfluxDB fields are bool, int, uint, float or string;
a field must keep one type):

============================  ==========  ====================================================
VariantType                   FieldKind   value
============================  ==========  ====================================================
Boolean                       BOOL        bool
SByte, Int16/32/64,           INT         int, exact (an enumeration is its Int32 value)
Byte, UInt16/32
UInt64                        UINT64      int, exact; the point must write it unsigned (``u``)
Float, Double                 FLOAT       float (a Float is its exact float32 value as a double)
String                        STRING      str (a null String is "")
DateTime                      INT         Unix milliseconds (UTC); the null DateTime (1601) is
                                          a ConversionError, i.e. a BAD sample
ByteString                    STRING      lowercase hex, two digits per byte (null -> "")
LocalizedText                 STRING      its text, without the locale (null -> "")
============================  ==========  ====================================================

Arrays (one dimension) become one field per element, ``<field>_0``, ``<field>_1``, ... (see
`field_names`). The number of fields is fixed at start (`converter(..., length=n)`, n from the
node's ArrayDimensions or, when the server leaves it open, the length of the value read at
start), because the tag set of a series must not change while running: a longer array is cut
to n, a shorter one gives None for the missing elements (the glue writes those as BAD).

Converters take the DataValue's Variant. The hot path is one identity check of the variant
type and the value itself; only a value of another type than the node declared takes the slow
path: one of the same FieldKind is converted (an Int16 where Int32 was declared), anything
else, a null Variant or an array for a scalar, raises ConversionError, never a wrong type.
`reader` wraps status and conversion in one call per DataValue for the collector glue.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from gateway.collectors.opcua.status import GOOD, lookup, quality_of_code
from gateway.model import Quality, Value

VT = ua.VariantType


class FieldKind(enum.Enum):
    """The InfluxDB field type a node's values are written as."""

    BOOL = "bool"
    INT = "int"
    UINT64 = "uint64"
    FLOAT = "float"
    STRING = "string"


class UnsupportedType(ValueError):
    """A data type the gateway cannot write (raised at start, by `field_kind`)."""


class ConversionError(ValueError):
    """One value that cannot be written as its node's kind; the text is the sample's reason."""


_KIND = {
    VT.Boolean: FieldKind.BOOL,
    VT.SByte: FieldKind.INT,
    VT.Int16: FieldKind.INT,
    VT.Int32: FieldKind.INT,
    VT.Int64: FieldKind.INT,
    VT.Byte: FieldKind.INT,
    VT.UInt16: FieldKind.INT,
    VT.UInt32: FieldKind.INT,
    VT.UInt64: FieldKind.UINT64,
    VT.Float: FieldKind.FLOAT,
    VT.Double: FieldKind.FLOAT,
    VT.String: FieldKind.STRING,
    VT.DateTime: FieldKind.INT,
    VT.ByteString: FieldKind.STRING,
    VT.LocalizedText: FieldKind.STRING,
}

SUPPORTED: frozenset[ua.VariantType] = frozenset(_KIND)


def field_kind(variant_type: ua.VariantType) -> FieldKind:
    """The field kind of a node of this type (an array's elements have the same kind).

    Raises UnsupportedType("unsupported type X ...") for the config check at start.
    """
    kind = _KIND.get(variant_type)
    if kind is None:
        names = ", ".join(t.name for t in _KIND)
        raise UnsupportedType(f"unsupported type {variant_type.name} (supported: {names})")
    return kind


def field_names(field: str, length: int | None) -> list[str]:
    """The field names of a node: [field] for a scalar, field_0 .. field_<n-1> for an array."""
    if length is None:
        return [field]
    return [f"{field}_{index}" for index in range(length)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = _EPOCH.replace(tzinfo=None)  # asyncua decodes UTC-aware; naive is taken as UTC
_NULL_MS = -11644473600000  # 1601-01-01, OPC UA's null DateTime (and what asyncua clamps to)


def _unix_ms(value: datetime) -> int:
    delta = value - (_EPOCH if value.tzinfo is not None else _NAIVE_EPOCH)
    ms = delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    if ms <= _NULL_MS:
        raise ConversionError("null DateTime")
    return ms


def _text(value: str | None) -> str:
    return "" if value is None else value


def _hex(value: bytes | None) -> str:
    return "" if value is None else value.hex()


def _localized(value: ua.LocalizedText | None) -> str:
    return "" if value is None or value.Text is None else value.Text


# element -> value, for the types whose Python value is not already the one to write
_ELEMENT: dict[ua.VariantType, Callable[[Any], Value]] = {
    VT.String: _text,
    VT.DateTime: _unix_ms,
    VT.ByteString: _hex,
    VT.LocalizedText: _localized,
}

Converter = Callable[[ua.Variant], Any]
"""Variant -> Value for a scalar node, tuple[Value | None, ...] of fixed length for an array."""


@functools.cache
def converter(variant_type: ua.VariantType, length: int | None = None) -> Converter:
    """The converter of a node declared as `variant_type`; `length` = None for a scalar, the
    fixed number of fields for an array. Raises UnsupportedType. Converters are shared."""
    field_kind(variant_type)
    if length is not None and length < 0:
        raise ValueError(f"array length {length} is negative")
    element = _ELEMENT.get(variant_type)
    if length is None:
        return _scalar(variant_type, element)
    return _array(variant_type, element, length)


def _scalar(vt: ua.VariantType, element: Callable[[Any], Value] | None) -> Converter:
    if element is None:

        def plain(variant: ua.Variant) -> Any:
            if variant.VariantType is vt and not variant.is_array:
                return variant.Value
            return _other(variant, vt, None)

        return plain

    def mapped(variant: ua.Variant) -> Any:
        if variant.VariantType is vt and not variant.is_array:
            return element(variant.Value)
        return _other(variant, vt, None)

    return mapped


def _array(vt: ua.VariantType, element: Callable[[Any], Value] | None, length: int) -> Converter:
    def convert(variant: ua.Variant) -> Any:
        if variant.VariantType is not vt or not variant.is_array:
            return _other(variant, vt, length)
        values = variant.Value
        if element is not None:
            values = [element(item) for item in values[:length]]
        if len(values) >= length:
            return tuple(values[:length])
        return (*values, *(None,) * (length - len(values)))

    return convert


def _other(variant: ua.Variant, vt: ua.VariantType, length: int | None) -> Any:
    """The slow path: a value of another type or shape than the node declared."""
    got = variant.VariantType
    if got is VT.Null or variant.Value is None:
        raise ConversionError("null value")
    if bool(variant.is_array) != (length is not None):
        shape = "an array" if variant.is_array else "a scalar"
        raise ConversionError(f"{shape} of {got.name} where {vt.name} was declared")
    time_mismatch = (got is VT.DateTime) != (vt is VT.DateTime)  # Int64 is no DateTime
    if got not in _KIND or _KIND[got] is not _KIND[vt] or time_mismatch:
        raise ConversionError(f"{got.name} value where {vt.name} was declared")
    # same kind: every INT type fits an int64 field, UInt64 is a kind of its own
    return converter(got, length)(variant)


Reading = tuple[Any, Quality, str]
"""(value, quality, reason) of one DataValue; value is None exactly when quality is BAD."""


@functools.cache
def reader(
    variant_type: ua.VariantType, length: int | None = None
) -> Callable[[ua.DataValue], Reading]:
    """Status and value of a DataValue in one call, for the per-notification hot path.

    A Bad status gives (None, BAD, status name) without looking at the value; a value that
    cannot be converted gives (None, BAD, the ConversionError's text); an array gives a tuple
    of `length` values (None for the missing ones). Raises UnsupportedType.
    """
    convert = converter(variant_type, length)
    bad = Quality.BAD
    plain = length is None and variant_type not in _ELEMENT
    vt = variant_type

    def read(data: ua.DataValue) -> Reading:
        status = data.StatusCode
        found = GOOD if status is None else lookup(status.value) or quality_of_code(status.value)
        quality, reason = found
        if quality is bad:
            return None, quality, reason
        variant = data.Value
        if plain and variant.VariantType is vt and not variant.is_array:  # type: ignore[union-attr]
            return variant.Value, quality, reason  # type: ignore[union-attr]
        try:
            return convert(variant), quality, reason  # type: ignore[arg-type]
        except ConversionError as error:
            return None, bad, str(error)

    return read
