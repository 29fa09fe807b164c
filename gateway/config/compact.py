"""Validated tags, held compactly: what 100,000 tags have in common is stored once.

Each pydantic model keeps the set of the fields that were given (`model_fields_set`), about
700 bytes for a tag with five of them, and most tags of a map give the same fields. The
loader hands every validated device to `share_common_parts`, which makes equal field sets,
empty `tags` mappings and equal nested models (`scale`, `deadband`) one shared object each.
The models stay frozen and unchanged in value; pydantic copies the field set before it
changes one (`model_copy`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_SET = "__pydantic_fields_set__"
_EMPTY: dict[str, str] = {}


class Sharing:
    """The shared parts, for one load."""

    def __init__(self) -> None:
        self.field_sets: dict[frozenset[str], set[str]] = {}
        self.models: dict[Any, BaseModel] = {}

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
        return shared

    def tag(self, tag: BaseModel) -> None:
        self.fields_set(tag)
        values = tag.__dict__
        for name, value in values.items():
            if isinstance(value, BaseModel):
                values[name] = self.model(value)
            elif type(value) is dict and not value:
                values[name] = _EMPTY


def share_common_parts(device: BaseModel, sharing: Sharing) -> None:
    """Share what the tags of `device` have in common with those seen before."""
    tags = getattr(device, "tags", None)
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, BaseModel):
                sharing.tag(tag)
