"""Readings of JSON Schema documents shared by the rooms that check schemas: the app's
definitions (`_app`) and the emulator's connect checks, which apply the same rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["declared_types"]


def declared_types(schema: Mapping[str, Any]) -> set[str]:
    """The type names a schema's `type` keyword declares: none when it has none."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()
