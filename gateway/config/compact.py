"""Validated tags, held compactly: what 100,000 tags have in common is stored once.

Each pydantic model keeps the set of the fields that were given (`model_fields_set`), about
700 bytes for a tag with five of them, and most tags of a map give the same fields. The
loader hands every validated device to `share_common_parts`, which makes equal field sets,
empty `tags` mappings, equal nested models (`scale`, `deadband`) and equal whole numbers (the
addresses of a CSV list, parsed again for each device that names it) one shared object each.
The models stay frozen and unchanged in value; pydantic copies the field set before it
changes one (`model_copy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar, get_args

from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)

_SET = "__pydantic_fields_set__"
_SLOTS = (_SET, "__pydantic_extra__", "__pydantic_private__")
_EMPTY: dict[str, str] = {}


def rebuilt(model: _M) -> _M:
    """An equal instance whose attributes are in a key-sharing dictionary."""
    cls = type(model)
    new = cls.__new__(cls)
    for name, value in model.__dict__.items():
        object.__setattr__(new, name, value)
    for slot in _SLOTS:
        object.__setattr__(new, slot, getattr(model, slot))
    return new


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _set_key_order(cls: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    """Give `cls` its table of attribute names in field order before any instance is built
    another way: CPython stops sharing a class's names for good once an instance sets them
    in another order."""
    if cls in seen:
        return
    seen.add(cls)
    try:
        rebuilt(cls.model_construct(**dict.fromkeys(cls.model_fields)))
    except Exception:  # a model that cannot be built empty: its tags just share less
        return
    for info in cls.model_fields.values():
        for nested in _models_in(info.annotation):
            _set_key_order(nested, seen)


class Sharing:
    """The shared parts, for one load (of tags of the given device models)."""

    def __init__(self, device_models: Iterable[type[BaseModel]] = ()) -> None:
        self.field_sets: dict[frozenset[str], set[str]] = {}
        self.models: dict[Any, BaseModel] = {}
        self.ints: dict[int, int] = {}
        seen: set[type[BaseModel]] = set()
        for device in device_models:
            tags = device.model_fields.get("tags")
            for model in _models_in(tags.annotation if tags is not None else None):
                _set_key_order(model, seen)

    def fields_set(self, model: BaseModel) -> None:
        given = model.__pydantic_fields_set__
        shared = self.field_sets.setdefault(frozenset(given), given)
        if shared is not given:
            object.__setattr__(model, _SET, shared)

    def model(self, model: BaseModel) -> BaseModel:
        """One instance per distinct value of a frozen nested model."""
        try:
            key = (type(model), model, frozenset(model.__pydantic_fields_set__))
            shared = self.models.setdefault(key, model)
        except TypeError:  # a field that cannot be hashed: keep it as it is
            return model
        if shared is model:
            self.fields_set(model)
            shared = self.models[key] = rebuilt(model)
        return shared

    def tag(self, tag: _M) -> _M:
        self.fields_set(tag)
        values = tag.__dict__
        for name, value in values.items():
            if isinstance(value, BaseModel):
                values[name] = self.model(value)
            elif type(value) is dict and not value:
                values[name] = _EMPTY
            elif type(value) is int:  # 32 bytes each beyond CPython's small ints
                values[name] = self.ints.setdefault(value, value)
        return rebuilt(tag)


def share_common_parts(device: BaseModel, sharing: Sharing) -> None:
    """Share what the tags of `device` have in common with those seen before."""
    tags = getattr(device, "tags", None)
    if isinstance(tags, list):
        for index, tag in enumerate(tags):
            if isinstance(tag, BaseModel):
                tags[index] = sharing.tag(tag)
