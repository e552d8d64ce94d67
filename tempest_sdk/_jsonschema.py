"""Readings of JSON Schema documents shared by the rooms that check schemas: the app's
definitions (`_app`) and the emulator's connect checks, which apply the same rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["declared_types", "json_type"]


def declared_types(schema: Mapping[str, Any]) -> set[str]:
    """The type names a schema's `type` keyword declares: none when it has none."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def json_type(value: Any) -> str | None:
    """The JSON Schema type name of a decoded JSON value; None for any other Python value.

    `bool` is checked before `int` because it is one in Python and not in JSON.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None
