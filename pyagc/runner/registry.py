"""The runner's view of the methods: the model classes of :mod:`pyagc.models`.

There is no per-method wiring here: a method is a :class:`~pyagc.models.BaseModel` subclass
exported by :mod:`pyagc.models`, found by its class name, and it tells the runner what it
needs through its class attributes and overridable steps (see :mod:`pyagc.models.base`).
"""
from __future__ import annotations

from typing import List, Type, Union

from pyagc.models import FAMILIES, BaseModel, list_models, resolve_model

__all__ = ["FAMILIES", "get_method", "list_methods"]


def get_method(name: Union[str, Type[BaseModel]]) -> Type[BaseModel]:
    """The model class of method ``name`` (case-insensitive), or ``name`` itself when it is
    already a :class:`~pyagc.models.BaseModel` subclass (a user's own model)."""
    return resolve_model(name)


def list_methods() -> List[Type[BaseModel]]:
    """Every method of :mod:`pyagc.models`, ordered by ECO family."""
    return list_models()
