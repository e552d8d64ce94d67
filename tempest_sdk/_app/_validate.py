"""Schemas compiled once at definition time, and what their violations read like."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._jsonschema import json_type
from ._fastcheck import FastCheck, compile_fast_check
from ._schema import jsonschema_lib, validator_class

if TYPE_CHECKING:
    from pydantic import ValidationError

# A `jsonschema.exceptions.ValidationError`; jsonschema ships no type information.
SchemaViolation = Any

__all__ = ["CompiledSchema", "join_path", "pydantic_problems"]

_IMMUTABLE = (str, int, float, bool, type(None))


class CompiledSchema:
    """A schema ready to validate instances many times over.

    `wire` is the schema as published, validated by `jsonschema`. `is_valid` asks
    the conservative fast check of `_fastcheck` first (kept for its measured gain on
    listed pages, see `benchmarks/bench_shortcuts.py`; a parity test holds it to
    `jsonschema`), and `jsonschema` only when that is not sure; the error messages
    always come from `jsonschema`. Format assertions are off, as in `jsonschema` by
    default and in Tempest's Go SDK.
    """

    __slots__ = ("_defaults", "_fast", "_validator", "nullable", "wire")

    def __init__(
        self,
        wire: dict[str, Any],
        *,
        inject_defaults: bool = False,
        nullable: Iterable[str] = (),
    ) -> None:
        from referencing import Registry

        cls = validator_class(wire)
        if cls is None:  # pragma: no cover - rejected earlier by schema_problems()
            raise ValueError("unknown $schema")
        self.wire = wire
        # An empty registry without `retrieve`: a reference never leads to a download.
        self._validator: Any = cls(wire, registry=Registry())
        draft7 = jsonschema_lib().Draft7Validator
        self._fast: FastCheck | None = compile_fast_check(wire) if cls is draft7 else None
        properties = wire.get("properties")
        self._defaults: tuple[tuple[str, Any], ...] = ()
        if inject_defaults and isinstance(properties, Mapping):
            self._defaults = tuple(
                (name, field["default"])
                for name, field in properties.items()
                if isinstance(field, Mapping) and "default" in field
            )
        #: Top-level fields whose `null` was dropped from the schema (Optional fields).
        self.nullable: frozenset[str] = frozenset(nullable)

    def with_defaults(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of `data` with the top-level defaults of the schema filled in.

        Like Tempest's Go SDK: only top-level properties, only where the key is absent.
        """
        if not self._defaults:
            return dict(data)
        filled = dict(data)
        for name, default in self._defaults:
            if name not in filled:
                filled[name] = (
                    default if isinstance(default, _IMMUTABLE) else copy.deepcopy(default)
                )
        return filled

    def is_valid(self, instance: Any) -> bool:
        """Whether `instance` matches the schema."""
        fast = self._fast
        if fast is not None and fast(instance):
            return True
        valid: bool = self._validator.is_valid(instance)
        return valid

    def problems(self, instance: Any, prefix: str = "") -> list[str]:
        """Every violation of the schema by `instance` as `path: reason`; empty if valid.

        Sorted by path (list indexes numerically), each line once.
        """
        if self.is_valid(instance):
            return []
        found: dict[str, tuple[Any, ...]] = {}
        for error in self._validator.iter_errors(instance):
            for parts, reason in _describe(error):
                found.setdefault(f"{join_path(prefix, parts)}: {reason}", _order(parts))
        return sorted(found, key=lambda line: found[line])


def _order(parts: Iterable[Any]) -> tuple[Any, ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in parts)


def join_path(prefix: str, parts: Iterable[Any]) -> str:
    """`prefix` followed by `parts`: names joined by dots, indexes in brackets."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "(root)"


def _json_type(value: Any) -> str:
    return json_type(value) or f"a Python {type(value).__name__}"


def _show(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}


# How a violated keyword reads, with its value as `{rule}`.
_RULES = {
    "minLength": "must be at least {rule} characters long",
    "maxLength": "must be at most {rule} characters long",
    "pattern": "must match the pattern {rule!r}",
    "minItems": "must have at least {rule} items",
    "maxItems": "must have at most {rule} items",
    "uniqueItems": "must not contain duplicates",
    "multipleOf": "must be a multiple of {rule}",
    "minProperties": "must have at least {rule} fields",
    "maxProperties": "must have at most {rule} fields",
    "format": "must be a valid {rule}",
    "not": "matches a shape the schema forbids",
}


def _describe(error: SchemaViolation) -> list[tuple[list[Any], str]]:
    """(path, reason) of one violation, naming the schema's rule, never the offending value."""
    path = list(error.absolute_path)
    keyword, rule, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, Mapping):
        return [([*path, name], "is required") for name in rule if name not in instance]
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        return [
            ([*path, name], "is not allowed (the schema has no such field)")
            for name in instance
            if name not in known
        ]
    if keyword == "type":
        expected = " or ".join(rule) if isinstance(rule, list) else str(rule)
        reason = f"must be {expected}, not {_json_type(instance)}"
    elif keyword == "enum" and isinstance(rule, Sequence):
        reason = "must be one of " + ", ".join(_show(v) for v in rule)
    elif keyword == "const":
        reason = f"must be {_show(rule)}"
    elif keyword in _BOUNDS:
        reason = f"must be {_BOUNDS[keyword]} {rule}"
    elif keyword in _RULES:
        reason = _RULES[keyword].format(rule=rule)
    elif keyword in ("anyOf", "oneOf"):
        reason = (
            f"does not match {'any' if keyword == 'anyOf' else 'exactly one'} of the allowed shapes"
        )
    else:
        reason = error.message
    return [(path, reason)]


def pydantic_problems(exc: ValidationError, prefix: str = "") -> list[str]:
    """Every error of a pydantic validation as `path: reason`, without input values."""
    lines: dict[str, None] = {}
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        kind = error["type"]
        if kind == "missing":
            reason = "is required"
        elif kind == "extra_forbidden":
            reason = "is not allowed (the schema has no such field)"
        else:
            reason = error["msg"]
        lines.setdefault(f"{join_path(prefix, error['loc'])}: {reason}")
    return list(lines)
