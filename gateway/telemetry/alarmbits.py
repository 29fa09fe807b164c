"""The names of the bits of alarm words, taken from the tag maps, for the live view.

A tag map names the bits of a word in one of two ways, and both are read here without knowing
the protocol:

- the word's description lists them: ``FeederAlarm bits: bit0=HOPPER_LOW, bit2=JAM``;
- bit tags read the word's register (same `space` and `address`, a `bit` index), as the
  bundled cell map's ``alarm_<name>`` fields do; a bit is named by its description's
  ``... bit: NAME``, else by its tag name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from gateway.config.models import DeviceFields, TagFields

_LISTED = re.compile(r"\bbit(\d+)\s*=\s*([A-Za-z_][\w-]*)")
_NAMED = re.compile(r"\bbit:\s*([A-Za-z_][\w-]*)\s*$")

#: device -> word tag -> bit index -> name
AlarmBits = dict[str, dict[str, dict[int, str]]]


def _register(tag: TagFields) -> tuple[object, object] | None:
    """Where a register-addressed tag reads (protocols without addresses: None)."""
    address = getattr(tag, "address", None)
    return None if address is None else (getattr(tag, "space", None), address)


def bits_of_device(device: DeviceFields) -> dict[str, dict[int, str]]:
    """Word tag -> bit index -> name, for every tag of `device` whose bits the map names."""
    words: dict[str, dict[int, str]] = {}
    for tag in device.tags:
        listed = {int(n): name for n, name in _LISTED.findall(tag.description)}
        if listed:
            words[tag.name] = listed
    bit_tags = [(t, b) for t in device.tags if isinstance(b := getattr(t, "bit", None), int)]
    for word in device.tags:
        where = _register(word)
        if where is None or word.name in words or getattr(word, "bit", None) is not None:
            continue
        named: dict[int, str] = {}
        for bit_tag, bit in bit_tags:
            if _register(bit_tag) == where:
                found = _NAMED.search(bit_tag.description)
                named[bit] = found[1] if found else bit_tag.name.upper()
        if named:
            words[word.name] = dict(sorted(named.items()))
    return words


def alarm_bits_from_maps(devices: Iterable[DeviceFields]) -> AlarmBits:
    """Device -> its named words (devices without any are left out)."""
    return {d.name: bits for d in devices if (bits := bits_of_device(d))}


def decode(word: int, names: Mapping[int, str]) -> list[str]:
    """The names of the set bits of `word`, lowest first; a bit without a name as ``bitN``."""
    word &= (1 << 64) - 1  # a signed word: its two's complement bits
    return [names.get(bit, f"bit{bit}") for bit in range(word.bit_length()) if word >> bit & 1]
