"""Variant -> the value written, for every supported type, arrays and the slow paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asyncua import ua

from gateway.collectors.opcua.values import (
    ConversionError,
    FieldKind,
    UnsupportedType,
    converter,
    field_kind,
    field_names,
    reader,
)
from gateway.model import Quality

VT = ua.VariantType
WHEN = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
WHEN_MS = 1772368215250


@pytest.mark.parametrize(
    ("vtype", "value", "expected", "kind"),
    [
        (VT.Boolean, True, True, FieldKind.BOOL),
        (VT.SByte, -128, -128, FieldKind.INT),
        (VT.Int16, -32768, -32768, FieldKind.INT),
        (VT.Int32, -(2**31), -(2**31), FieldKind.INT),
        (VT.Int64, -(2**63), -(2**63), FieldKind.INT),
        (VT.Byte, 255, 255, FieldKind.INT),
        (VT.UInt16, 65535, 65535, FieldKind.INT),
        (VT.UInt32, 2**32 - 1, 2**32 - 1, FieldKind.INT),
        (VT.UInt64, 2**64 - 1, 2**64 - 1, FieldKind.UINT64),
        (VT.Float, 0.5, 0.5, FieldKind.FLOAT),
        (VT.Double, 2.5e300, 2.5e300, FieldKind.FLOAT),
        (VT.String, "a, b = c", "a, b = c", FieldKind.STRING),
        (VT.String, None, "", FieldKind.STRING),
        (VT.DateTime, WHEN, WHEN_MS, FieldKind.INT),
        (VT.DateTime, WHEN.astimezone(timezone(timedelta(hours=8))), WHEN_MS, FieldKind.INT),
        (VT.DateTime, WHEN.replace(tzinfo=None), WHEN_MS, FieldKind.INT),  # naive = UTC
        (VT.ByteString, b"\x00\x01\xfe\xff", "0001feff", FieldKind.STRING),
        (VT.ByteString, None, "", FieldKind.STRING),
        (VT.LocalizedText, ua.LocalizedText("Normal", "en-US"), "Normal", FieldKind.STRING),
        (VT.LocalizedText, ua.LocalizedText(None), "", FieldKind.STRING),
    ],
)
def test_every_supported_type(
    vtype: ua.VariantType, value: object, expected: object, kind: FieldKind
) -> None:
    assert field_kind(vtype) is kind
    result = converter(vtype)(ua.Variant(value, vtype))
    assert result == expected
    assert type(result) is type(expected)  # never a bool for an int, or an int for a float


def test_the_null_datetime_is_no_value() -> None:
    with pytest.raises(ConversionError, match="null DateTime"):
        converter(VT.DateTime)(ua.Variant(datetime(1601, 1, 1, tzinfo=UTC), VT.DateTime))


@pytest.mark.parametrize(
    "vtype",
    [
        VT.ExtensionObject,
        VT.Guid,
        VT.NodeId,
        VT.QualifiedName,
        VT.XmlElement,
        VT.Variant,
        VT.StatusCode,
    ],
)
def test_unsupported_types_are_refused_at_start(vtype: ua.VariantType) -> None:
    with pytest.raises(UnsupportedType, match=f"unsupported type {vtype.name} "):
        field_kind(vtype)
    with pytest.raises(UnsupportedType):
        converter(vtype)


def test_arrays_have_a_fixed_number_of_fields() -> None:
    assert field_names("current", None) == ["current"]
    assert field_names("current", 3) == ["current_0", "current_1", "current_2"]
    convert = converter(VT.Int32, 3)
    assert convert(ua.Variant([1, 2, 3], VT.Int32)) == (1, 2, 3)
    assert convert(ua.Variant([1, 2, 3, 4], VT.Int32)) == (1, 2, 3)  # cut to the fields
    assert convert(ua.Variant([1], VT.Int32)) == (1, None, None)  # missing: None (BAD)
    assert convert(ua.Variant([], VT.Int32, is_array=True)) == (None, None, None)
    dates = converter(VT.DateTime, 2)(ua.Variant([WHEN, WHEN], VT.DateTime))
    assert dates == (WHEN_MS, WHEN_MS)
    texts = converter(VT.LocalizedText, 2)
    assert texts(ua.Variant([ua.LocalizedText("a"), ua.LocalizedText("b")])) == ("a", "b")
    assert converter(VT.ByteString, 1)(ua.Variant([b"\x0a"], VT.ByteString)) == ("0a",)


def test_a_value_of_the_same_kind_but_another_type_is_converted() -> None:
    assert converter(VT.Int32)(ua.Variant(7, VT.Int16)) == 7
    assert converter(VT.Double)(ua.Variant(0.5, VT.Float)) == 0.5
    assert converter(VT.String)(ua.Variant(ua.LocalizedText("x"), VT.LocalizedText)) == "x"
    assert converter(VT.Int32, 2)(ua.Variant([1, 2], VT.Byte)) == (1, 2)


@pytest.mark.parametrize(
    ("vtype", "variant", "reason"),
    [
        (VT.Double, ua.Variant(None, VT.Null), "null value"),
        (VT.Double, ua.Variant("x", VT.String), "String value where Double was declared"),
        (VT.Int32, ua.Variant(1.0, VT.Double), "Double value where Int32 was declared"),
        (VT.Int64, ua.Variant(2**64 - 1, VT.UInt64), "UInt64 value where Int64 was declared"),
        (VT.UInt64, ua.Variant(-1, VT.Int64), "Int64 value where UInt64 was declared"),
        (VT.DateTime, ua.Variant(5, VT.Int64), "Int64 value where DateTime was declared"),
        (VT.Int64, ua.Variant(WHEN, VT.DateTime), "DateTime value where Int64 was declared"),
        (VT.Double, ua.Variant([1.0], VT.Double), "an array of Double where Double was declared"),
        (VT.Boolean, ua.Variant(1, VT.Int32), "Int32 value where Boolean was declared"),
    ],
)
def test_other_values_are_a_conversion_error_not_a_wrong_type(
    vtype: ua.VariantType, variant: ua.Variant, reason: str
) -> None:
    with pytest.raises(ConversionError) as caught:
        converter(vtype)(variant)
    assert str(caught.value) == reason


def test_a_scalar_for_an_array_is_a_conversion_error() -> None:
    with pytest.raises(ConversionError, match="a scalar of Double where Double was declared"):
        converter(VT.Double, 2)(ua.Variant(1.0, VT.Double))


def dv(variant: ua.Variant, code: int = 0) -> ua.DataValue:
    return ua.DataValue(variant, StatusCode=ua.StatusCode(ua.UInt32(code)))


def test_reader_gives_value_quality_and_reason_in_one_call() -> None:
    read = reader(VT.Double)
    assert read(dv(ua.Variant(1.5, VT.Double))) == (1.5, Quality.GOOD, "")
    uncertain = ua.StatusCodes.UncertainLastUsableValue
    assert read(dv(ua.Variant(1.5, VT.Double), uncertain)) == (
        1.5,
        Quality.UNCERTAIN,
        "UncertainLastUsableValue",
    )
    # a Bad value is never a number, whatever the server left in it
    bad = dv(ua.Variant(0.0, VT.Double), ua.StatusCodes.BadSensorFailure)
    assert read(bad) == (None, Quality.BAD, "BadSensorFailure")
    assert read(dv(ua.Variant("x", VT.String))) == (
        None,
        Quality.BAD,
        "String value where Double was declared",
    )
    assert read(dv(ua.Variant(2.0, VT.Float))) == (2.0, Quality.GOOD, "")  # a Float node value
    assert reader(VT.DateTime)(dv(ua.Variant(WHEN, VT.DateTime))) == (WHEN_MS, Quality.GOOD, "")
    assert reader(VT.Int16, 2)(dv(ua.Variant([1], VT.Int16))) == ((1, None), Quality.GOOD, "")
    with pytest.raises(UnsupportedType):
        reader(VT.Guid)
