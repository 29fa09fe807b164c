"""StatusCode -> quality and reason, as every OPC UA sample is stamped."""

from __future__ import annotations

import pytest
from asyncua import ua

from gateway.collectors.opcua.status import quality_of, quality_of_code, status_name
from gateway.model import Quality

S = ua.StatusCodes


def code(value: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(value))


@pytest.mark.parametrize(
    ("value", "quality", "reason"),
    [
        (S.Good, Quality.GOOD, ""),
        (S.GoodClamped, Quality.GOOD, "GoodClamped"),
        (S.UncertainLastUsableValue, Quality.UNCERTAIN, "UncertainLastUsableValue"),
        (S.UncertainSensorNotAccurate, Quality.UNCERTAIN, "UncertainSensorNotAccurate"),
        (S.BadSensorFailure, Quality.BAD, "BadSensorFailure"),
        (S.BadNodeIdUnknown, Quality.BAD, "BadNodeIdUnknown"),
        (S.BadCommunicationError, Quality.BAD, "BadCommunicationError"),
        # info bits (here: overflow, limit low) do not hide the name
        (S.UncertainLastUsableValue | 0x0480, Quality.UNCERTAIN, "UncertainLastUsableValue"),
        (0x80FE0000, Quality.BAD, "0x80FE0000"),  # unknown to asyncua: its hex value
        (0x40FE0000, Quality.UNCERTAIN, "0x40FE0000"),
        (0xC0000000, Quality.BAD, "0xC0000000"),  # severity 11 is reserved: not good
    ],
)
def test_status_codes_map_to_quality_and_reason(value: int, quality: Quality, reason: str) -> None:
    assert quality_of(code(value)) == (quality, reason)
    assert quality_of_code(value) == (quality, reason)
    assert quality_of(code(value)) == (quality, reason)  # the cached answer is the same


def test_an_absent_status_is_good() -> None:
    assert quality_of(None) == (Quality.GOOD, "")


def test_status_name() -> None:
    assert status_name(S.BadSensorFailure) == "BadSensorFailure"
    assert status_name(0x80AB1234) == "BadInvalidArgument"
