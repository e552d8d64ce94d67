"""A strict JSON shape checker compiled from the wire models.

The wire models are tolerant on purpose (lax coercion, a plain list accepted for
`links`, required fields with defaults). The emulator must be strict instead, so it
walks the parsed JSON against a shape compiled once from each model's fields: exact
JSON types, every field the contract requires (required without default, or in the
model's `_always_written`), enums, discriminated unions, forbidden extra fields.
Every problem is reported as `path: expected X, got Y`, never quoting free text (a
value is only quoted for enums and discriminators, which are never secrets).

An optional field may be left out; it may be `null` only where the contract says
`nullable: true` (`CONTRACT_NULLABLE`), although the models read `null` as absent.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Final, Literal, Protocol, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from .._jsonschema import json_type
from ..models import WireModel

__all__ = ["CONTRACT_NULLABLE", "Shape", "compile_model", "describe_value"]

_QUOTE_LIMIT = 40

CONTRACT_NULLABLE: Final = frozenset(
    {
        # (wire model, wire name): the contract's `nullable: true` fields.
        ("Resource", "created_by"),
        ("Resource", "deleted_at"),
        ("Resource", "name"),
        ("Resource", "properties"),
        ("Resource", "links"),
        ("StandardResponse", "error"),
        ("Recipe", "published_at"),
        ("RequestPaginatedObjects", "next"),
        # The contract's one deviation (tests/contract/generate_schemas.py): Tempest's own
        # client reports a failed task with `"response": null`.
        ("TaskReport", "response"),
    }
)
"""The optional fields that may be sent as `null`; any other may only be left out."""


class Shape(Protocol):
    """One node of a compiled shape."""

    @property
    def expected(self) -> str:
        """What a valid value is, in words ("a string", "one of 'a', 'b'")."""
        ...

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        """Append a `path: expected X, got Y` line to `problems` for each violation."""
        ...


_TYPE_WORDS: Final = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "a number",
    "number": "a number",
    "string": "a string",
    "array": "an array",
}


def describe_value(value: Any) -> str:
    """Name the JSON type of `value` without quoting it."""
    return _TYPE_WORDS.get(json_type(value) or "object", "an object")


def _quoted(value: Any) -> str:
    # Only for enum-like fields: short strings are shown, anything else by type.
    if isinstance(value, str) and len(value) <= _QUOTE_LIMIT:
        return repr(value)
    return describe_value(value)


def _problem(problems: list[str], path: str, expected: str, got: str) -> None:
    problems.append(f"{path or 'body'}: expected {expected}, got {got}")


@dataclass(frozen=True, slots=True)
class _Any:
    expected: str = "any JSON value"

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        return


@dataclass(frozen=True, slots=True)
class _Type:
    """A JSON scalar or a free-form object, checked by Python type."""

    expected: str
    types: tuple[type, ...]

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        # bool is an int in Python, never a number in JSON.
        if not isinstance(value, self.types) or (
            isinstance(value, bool) and bool not in self.types
        ):
            _problem(problems, path, self.expected, describe_value(value))


@dataclass(frozen=True, slots=True)
class _DateTime:
    expected: str = "a date-time string (RFC 3339)"

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, str):
            _problem(problems, path, self.expected, describe_value(value))
            return
        try:
            datetime.fromisoformat(value)
        except ValueError:
            _problem(problems, path, self.expected, "a string that is not a date-time")


@dataclass(frozen=True, slots=True)
class _Enum:
    values: tuple[str, ...]

    @property
    def expected(self) -> str:
        if len(self.values) == 1:
            return repr(self.values[0])
        return "one of " + ", ".join(repr(v) for v in self.values)

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        if value not in self.values or not isinstance(value, str):
            _problem(problems, path, self.expected, _quoted(value))


@dataclass(frozen=True, slots=True)
class _Nullable:
    inner: Shape

    @property
    def expected(self) -> str:
        return f"{self.inner.expected} or null"

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        if value is None:
            return
        mark = len(problems)
        self.inner.check(value, path, problems)
        # A wrong type here may also have been null: say so, but only for this value.
        head = f"{path or 'body'}: expected {self.inner.expected}, got "
        for index in range(mark, len(problems)):
            if problems[index].startswith(head):
                got = problems[index][len(head) :]
                problems[index] = f"{path or 'body'}: expected {self.expected}, got {got}"


@dataclass(frozen=True, slots=True)
class _Array:
    item: Shape

    @property
    def expected(self) -> str:
        return "an array"

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, list):
            _problem(problems, path, self.expected, describe_value(value))
            return
        for index, item in enumerate(value):
            self.item.check(item, f"{path}[{index}]", problems)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    shape: Shape
    required: bool


@dataclass(slots=True)
class _Model:
    """A wire model: an object with known fields (unknown ones allowed unless forbidden)."""

    name: str
    fields: tuple[_Field, ...] = ()
    forbid_extra: bool = False
    expected: str = "an object"
    _names: frozenset[str] = field(default=frozenset())

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, dict):
            _problem(problems, path, self.expected, describe_value(value))
            return
        prefix = f"{path}." if path else ""
        for spec in self.fields:
            if spec.name in value:
                spec.shape.check(value[spec.name], prefix + spec.name, problems)
            elif spec.required:
                _problem(problems, prefix + spec.name, spec.shape.expected, "nothing (required)")
        if self.forbid_extra:
            allowed = ", ".join(repr(f.name) for f in self.fields)
            for name in value:
                if name not in self._names:
                    problems.append(
                        f"{prefix}{name}: unexpected field; {self.name} allows only {allowed}"
                    )


@dataclass(frozen=True, slots=True)
class _Union:
    """A union of models discriminated by one string field."""

    discriminator: str
    members: dict[str, _Model]

    @property
    def expected(self) -> str:
        return f"an object with {self.discriminator!r}"

    def check(self, value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, dict):
            _problem(problems, path, "an object", describe_value(value))
            return
        prefix = f"{path}." if path else ""
        tags = _Enum(tuple(self.members))
        if self.discriminator not in value:
            _problem(problems, prefix + self.discriminator, tags.expected, "nothing (required)")
            return
        tag = value[self.discriminator]
        member = self.members.get(tag) if isinstance(tag, str) else None
        if member is None:
            tags.check(value[self.discriminator], prefix + self.discriminator, problems)
            return
        member.check(value, path, problems)


_CACHE: dict[type[BaseModel], _Model] = {}


def compile_model(model: type[WireModel]) -> Shape:
    """Return the strict shape of `model` (compiled once, then cached)."""
    return _compile_model(model)


def _compile_model(model: type[BaseModel]) -> _Model:
    cached = _CACHE.get(model)
    if cached is not None:
        return cached
    # Registered before its fields are compiled, so a recursive model terminates.
    shape = _Model(model.__name__, forbid_extra=model.model_config.get("extra") == "forbid")
    _CACHE[model] = shape
    always: frozenset[str] = getattr(model, "_always_written", frozenset())
    fields = []
    for name, info in model.model_fields.items():
        wire_name = info.alias or name
        shape_of_field = _compile(info.annotation, info.discriminator)
        if isinstance(shape_of_field, _Nullable) and (
            (model.__name__, wire_name) not in CONTRACT_NULLABLE
        ):
            shape_of_field = shape_of_field.inner
        fields.append(_Field(wire_name, shape_of_field, info.is_required() or name in always))
    shape.fields = tuple(fields)
    shape._names = frozenset(f.name for f in fields)
    if len(fields) == 1 and isinstance(_unwrap(fields[0].shape), _Array):
        # A wrapper object such as Links: say its shape, a bare array is the usual mistake.
        shape.expected = f'an object {{"{fields[0].name}": [...]}}'
    return shape


def _unwrap(shape: Shape) -> Shape:
    return shape.inner if isinstance(shape, _Nullable) else shape


def _compile(annotation: Any, discriminator: Any = None) -> Shape:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        found = next(
            (m.discriminator for m in args[1:] if isinstance(m, FieldInfo) and m.discriminator),
            discriminator,
        )
        return _compile(args[0], found)
    if origin is Union or origin is types.UnionType:
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            inner = _compile(present[0], discriminator)
        elif isinstance(discriminator, str):
            inner = _union(present, discriminator)
        else:
            raise TypeError(f"cannot check an undiscriminated union: {annotation!r}")
        return _Nullable(inner) if len(present) < len(args) else inner
    if origin is list:
        return _Array(_compile(args[0]) if args else _Any())
    if origin is dict or annotation is dict:
        return _Type("an object", (dict,))
    if origin is Literal:
        return _Enum(tuple(str(a) for a in args))
    if annotation is Any:
        return _Any()
    if isinstance(annotation, type):
        return _compile_type(annotation)
    raise TypeError(f"no JSON shape for {annotation!r}")


def _compile_type(annotation: type) -> Shape:
    if issubclass(annotation, BaseModel):
        return _compile_model(annotation)
    if issubclass(annotation, Enum):
        return _Enum(tuple(str(m.value) for m in annotation))
    if issubclass(annotation, bool):
        return _Type("a boolean", (bool,))
    if issubclass(annotation, str | SecretStr):
        return _Type("a string", (str,))
    if issubclass(annotation, int):
        return _Type("an integer", (int,))
    if issubclass(annotation, float):
        return _Type("a number", (int, float))
    if issubclass(annotation, datetime):
        return _DateTime()
    raise TypeError(f"no JSON shape for {annotation!r}")


def _union(members: Sequence[Any], discriminator: str) -> _Union:
    mapping: dict[str, _Model] = {}
    for member in members:
        tag_field = member.model_fields[discriminator]
        for tag in get_args(tag_field.annotation):
            mapping[str(tag)] = _compile_model(member)
    return _Union(discriminator, mapping)
