"""The plant as the OPC UA PLC shows it: what the server needs of a plant, the node ids of its
devices and tags, and the plant's part of the address space (objects, one variable per
catalog tag, the command and fault methods)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from asyncua import Node, Server, ua

from simulators.catalog import CATALOG, TagDef
from simulators.opcua_faults import FAULT_ARGS, command_method, fault_method
from simulators.opcua_nodes import VARIANT, add_method, add_variable, encode, nid

POTLINE = "Potline1"


class PlantModel(Protocol):
    """What the server needs of `simulators.process.plant.Plant`."""

    @property
    def FAULTS(self) -> Sequence[str]: ...
    def device_names(self) -> list[str]: ...
    def kind(self, device: str) -> str: ...
    def values(self, device: str) -> Mapping[str, object]: ...
    def bad(self, device: str) -> Mapping[str, str]: ...
    @property
    def t(self) -> float: ...
    def write(self, device: str, tag: str, value: object) -> None: ...
    def tap(self, cell: str) -> None: ...
    def change_anode(self, cell: str) -> None: ...
    def reset_rectifier(self) -> None: ...
    def inject(self, fault: str, target: str | None = None) -> None: ...
    def clear(self, fault: str, target: str | None = None) -> None: ...


def device_path(device: str) -> str:
    """Dotted path of a plant device: rectifier -> Potline1.Rectifier, cell01_feeder ->
    Potline1.Cell01.Feeder."""
    return ".".join([POTLINE, *(part.capitalize() for part in device.split("_"))])


def node_id(device: str, tag: str) -> str:
    """The string identifier of a tag's variable, e.g. Potline1.Cell01.bath_temp."""
    return f"{device_path(device)}.{tag}"


@dataclass(frozen=True, slots=True)
class PlantVar:
    """One tag's variable: its device, catalog entry and string node id (the namespace index
    is added per server)."""

    device: str
    tag: TagDef
    ident: str

    @property
    def vtype(self) -> ua.VariantType:
        return VARIANT[self.tag.kind]


def plant_vars(plant: PlantModel, devices: Sequence[str]) -> dict[str, PlantVar]:
    """Node id -> variable of every catalog tag of `devices`."""
    found: dict[str, PlantVar] = {}
    for device in devices:
        for tag in CATALOG[plant.kind(device)]:
            found[node_id(device, tag.name)] = PlantVar(device, tag, node_id(device, tag.name))
    return found


def commands(plant: PlantModel, device: str) -> list[tuple[str, Callable[[], None]]]:
    """The methods of a device object: Tap and ChangeAnode of a cell, Reset of the rectifier."""
    kind = plant.kind(device)
    if kind == "cell":
        return [
            ("Tap", partial(plant.tap, device)),
            ("ChangeAnode", partial(plant.change_anode, device)),
        ]
    if kind == "rectifier":
        return [("Reset", plant.reset_rectifier)]
    return []


async def add_plant_nodes(
    server: Server,
    plant: PlantModel,
    devices: Sequence[str],
    variables: Mapping[str, PlantVar],
    ns: int,
) -> None:
    """Objects/Plant/Potline1 with its fault methods, and under it each device's object (and
    missing parents), variables (the plant's values now) and command methods."""
    folder = await server.nodes.objects.add_folder(nid("Plant", ns), ua.QualifiedName("Plant", ns))
    potline = await folder.add_object(nid(POTLINE, ns), ua.QualifiedName(POTLINE, ns))
    objects: dict[str, Node] = {POTLINE: potline}
    for name, act in (("InjectFault", plant.inject), ("ClearFault", plant.clear)):
        call = fault_method(plant.FAULTS, act)
        await add_method(potline, f"{POTLINE}.{name}", ns, call, FAULT_ARGS)
    for device in devices:
        path = device_path(device).split(".")
        for depth in range(2, len(path) + 1):  # the device object and missing parents
            ident = ".".join(path[:depth])
            if ident not in objects:
                objects[ident] = await objects[".".join(path[: depth - 1])].add_object(
                    nid(ident, ns), ua.QualifiedName(path[depth - 1], ns)
                )
        path_id = ".".join(path)
        obj = objects[path_id]
        values = plant.values(device)
        for tag in CATALOG[plant.kind(device)]:
            var = variables[node_id(device, tag.name)]
            value = ua.Variant(encode(tag.kind, values[tag.name]), var.vtype)
            await add_variable(obj, var.ident, ns, tag, value)
        for name, action in commands(plant, device):
            await add_method(obj, f"{path_id}.{name}", ns, command_method(action))
