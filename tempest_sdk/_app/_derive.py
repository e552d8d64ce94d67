"""Schemas from type hints: pydantic models, dataclasses and TypedDicts.

Pydantic writes a draft 2020-12 schema with `$defs`; Tempest takes the simplest
draft-07: one inline object, enums and literals as `enum`, `Optional` fields as their
plain type and not required, annotations and constraints kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, PydanticUserError, TypeAdapter

__all__ = ["Derived", "derive", "is_schema_type"]

_NULL = {"type": "null"}


@dataclass(frozen=True, slots=True)
class Derived:
    """A schema derived from a type, and the adapter that validates/dumps that type."""

    schema: dict[str, Any]
    adapter: TypeAdapter[Any]
    nullable: frozenset[str]
    #: Optional fields without a default: pydantic requires them, Tempest may omit them.
    fill_none: tuple[str, ...]


class _Problem(Exception):
    pass


def is_schema_type(tp: object) -> bool:
    """Whether `tp` is a type a schema can be derived from."""
    return isinstance(tp, type) and (
        issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp) or _is_typeddict(tp)
    )


def _is_typeddict(tp: type[Any]) -> bool:
    # Both typing's and typing_extensions' TypedDicts (they differ before Python 3.12).
    return (
        issubclass(tp, dict)
        and hasattr(tp, "__required_keys__")
        and hasattr(tp, "__optional_keys__")
        and hasattr(tp, "__total__")
    )


def derive(tp: type[Any], mode: Literal["validation", "serialization"]) -> Derived | str:
    """Derive Tempest's schema for `tp`, or return why it cannot be done."""
    name = getattr(tp, "__qualname__", repr(tp))
    if not is_schema_type(tp):
        return (
            f"{name} is not a pydantic model, dataclass or TypedDict; a schema can only be "
            "derived from those (or pass a raw tempest.JSONSchema)"
        )
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(tp)
        generated = adapter.json_schema(mode=mode)
    except (PydanticUserError, NameError, TypeError, ValueError) as exc:
        return f"cannot build a schema from {name}: {exc}"
    defs = generated.get("$defs", {})
    try:
        schema = _simplify(generated, defs, ())
    except _Problem as exc:
        return f"{name}: {exc}"
    if schema.get("type") != "object":
        return f"{name} does not describe an object"
    nullable = frozenset(_nullable_fields(generated, defs))
    required = [r for r in schema.get("required", []) if r not in nullable]
    fill_none = tuple(r for r in schema.get("required", []) if r in nullable)
    if "required" in schema:
        if required:
            schema["required"] = required
        else:
            del schema["required"]
    return Derived(schema, adapter, nullable, fill_none)


def _nullable_fields(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> list[str]:
    root = _deref(schema, defs)
    properties = root.get("properties", {})
    return [
        name
        for name, field in properties.items()
        if isinstance(field, Mapping) and _NULL in field.get("anyOf", ())
    ]


def _deref(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = set()
    while "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        target = defs.get(ref.rsplit("/", 1)[-1])
        if not isinstance(target, Mapping):
            break
        node = target
    return node


_SUBSCHEMA = ("items", "additionalProperties", "not", "contains", "propertyNames")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _simplify(node: Any, defs: Mapping[str, Any], stack: tuple[str, ...]) -> Any:
    if not isinstance(node, Mapping):
        return node
    out = dict(node)
    if "$ref" in out:
        ref = out.pop("$ref")
        name = ref.rsplit("/", 1)[-1]
        if name in stack:
            raise _Problem(
                f"{name} refers to itself ({' -> '.join((*stack, name))}); a recursive "
                "model cannot be written inline, which Tempest requires"
            )
        target = defs.get(name)
        if not isinstance(target, Mapping):
            raise _Problem(f"unresolvable reference {ref!r}")
        inlined = _simplify(target, defs, (*stack, name))
        # The referring site's own keywords (description, default) win over the target's.
        return {**inlined, **{k: _simplify_keyword(k, v, defs, stack) for k, v in out.items()}}
    out.pop("$defs", None)
    # OpenAPI's keyword, not JSON Schema's; validators ignore it.
    out.pop("discriminator", None)
    for key in list(out):
        out[key] = _simplify_keyword(key, out[key], defs, stack)
    if "anyOf" in out and isinstance(out["anyOf"], list):
        branches = [b for b in out["anyOf"] if b != _NULL]
        if len(branches) < len(out["anyOf"]):
            del out["anyOf"]
            if out.get("default", ...) is None:
                del out["default"]
            if len(branches) == 1 and isinstance(branches[0], Mapping):
                out = {**branches[0], **out}
            elif branches:
                out["anyOf"] = branches
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "prefixItems" in out:
        # Draft-07 writes a tuple as an array of item schemas.
        out["items"] = out.pop("prefixItems")
    return out


def _simplify_keyword(key: str, value: Any, defs: Mapping[str, Any], stack: tuple[str, ...]) -> Any:
    if key in _SUBSCHEMA:
        return _simplify(value, defs, stack)
    if key in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
        return {name: _simplify(sub, defs, stack) for name, sub in value.items()}
    if key in _SUBSCHEMA_LISTS and isinstance(value, list):
        return [_simplify(sub, defs, stack) for sub in value]
    return value
