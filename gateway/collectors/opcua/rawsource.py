"""`gateway once --raw` for OPC UA: what each value was read as, noted from the DataValues
of a collector built for `once`: its node, the variant type and the status code the server
sent (`<- ns=2;s=Cell01.Voltage Double Good`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from asyncua import ua

from gateway.collectors.opcua.binding import Bound
from gateway.collectors.opcua.status import status_name
from gateway.model import Point, Sample

if TYPE_CHECKING:
    from gateway.collectors.opcua.collector import OpcuaConnection
    from gateway.collectors.opcua.compile import OpcuaPlan


def source_text(node: str, data: ua.DataValue) -> str:
    """`<- NODE TYPE STATUS`; an array's type is followed by its length."""
    variant = data.Value
    kind = variant.VariantType.name if variant is not None else "no value"
    if variant is not None and isinstance(variant.Value, list):
        kind += f"[{len(variant.Value)}]"
    code = data.StatusCode.value if data.StatusCode is not None else 0
    return f"<- {node} {kind} {status_name(code) if code else 'Good'}"


class ValueNotes:
    """What each field of the tags a collector read came as."""

    def __init__(self) -> None:
        self.texts: dict[Point, str] = {}

    def answered(self, bound: Bound, data: ua.DataValue) -> None:
        text = source_text(bound.node_id.to_string(), data)
        for field in bound.tag.fields:
            self.texts[field.point] = text

    def __call__(self, sample: Sample) -> str:
        return self.texts.get(sample.point, "")


def sources(plan: OpcuaPlan, collector: OpcuaConnection) -> Callable[[Sample], str]:
    """The plugin's `sources`: note the DataValues `collector` reads (before it scans)."""
    notes = ValueNotes()
    collector.answered = notes.answered
    return notes
