"""One read response -> samples: string encodings and what invalid bytes become."""

from __future__ import annotations

from gateway.collectors.modbus.compile import compile_device
from gateway.collectors.modbus.extract import extract
from gateway.collectors.modbus.models import ModbusDevice
from gateway.model import Quality


def scan_of(**string_tag):
    device = ModbusDevice.model_validate(
        {
            "name": "feeder",
            "endpoint": "modbus+tcp://127.0.0.1:502",
            "tags": [
                {
                    "name": "recipe",
                    "space": "holding_register",
                    "address": 0,
                    "type": "string",
                    "length": 4,
                    **string_tag,
                },
                {"name": "level", "space": "holding_register", "address": 4},
            ],
        }
    )
    (scan,) = compile_device(device)
    (request,) = scan.requests
    return request


def test_a_gbk_string_is_good() -> None:
    request = scan_of(encoding="gbk")
    recipe, level = extract(request, [0xB5E7, 0xBDE2, 0xB2DB, 0x2020, 7], 1)
    assert (recipe.value, recipe.quality, recipe.reason) == ("电解槽", Quality.GOOD, "")
    assert (level.value, level.quality) == (7, Quality.GOOD)


def test_invalid_bytes_make_the_string_uncertain_with_replacement_characters() -> None:
    request = scan_of(encoding="gbk")
    recipe, level = extract(request, [0xB5E7, 0xFF41, 0x0000, 0x0000, 7], 1)
    assert recipe.quality is Quality.UNCERTAIN
    assert recipe.value == "电\ufffdA"
    assert recipe.reason.startswith("invalid GBK bytes replaced with U+FFFD")
    assert level.quality is Quality.GOOD


def test_the_default_encoding_is_utf8() -> None:
    request = scan_of()
    (recipe, _) = extract(request, [0xC3A4, 0x2000, 0, 0, 1], 1)  # "ä " padded
    assert recipe.value == "ä"
    (recipe, _) = extract(request, [0xB5E7, 0, 0, 0, 1], 1)  # GBK read as UTF-8
    assert recipe.quality is Quality.UNCERTAIN
    assert recipe.value == "\ufffd\ufffd"


def test_the_encoding_is_checked_where_it_is_written(tmp_path) -> None:
    import pytest

    from gateway.config import load_tagmaps
    from gateway.errors import ConfigError

    path = tmp_path / "map.yaml"
    path.write_text(
        "devices:\n"
        "  - name: feeder\n"
        "    endpoint: modbus+tcp://127.0.0.1:502\n"
        "    tags:\n"
        "      - {name: a, space: holding_register, address: 0, type: string, length: 2,"
        " encoding: big5x}\n"
        "      - {name: b, space: holding_register, address: 2, encoding: gbk}\n"
        "      - {name: c, space: holding_register, address: 3, type: string, length: 2,"
        " encoding: gb18030}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_tagmaps([str(path)], env={})
    problems = [str(p).removeprefix(str(tmp_path) + "/") for p in info.value.problems]
    assert len(problems) == 2
    assert problems[0].startswith("map.yaml:5 devices[0].tags[0].encoding: unknown text encoding")
    assert problems[1].startswith("map.yaml:6 devices[0].tags[1].encoding: encoding is only used")
