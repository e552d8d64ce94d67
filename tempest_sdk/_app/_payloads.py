"""Inputs, outputs and properties: each a schema plus the code that checks a value against it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from ._derive import derive
from ._errors import DefinitionError
from ._schema import EMPTY_OBJECT_SCHEMA, JSONSchema, flat_problems
from ._validate import CompiledSchema, pydantic_problems

__all__ = [
    "InputSpec",
    "OutputSpec",
    "PropertiesSpec",
    "SchemaSource",
    "compile_source",
]

SchemaSource: TypeAlias = "type[Any] | Mapping[str, Any] | JSONSchema"
"""Where a schema comes from: a model/dataclass/TypedDict, or a raw schema."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    schema: CompiledSchema
    adapter: TypeAdapter[Any] | None
    model: type[Any] | None
    fill_none: tuple[str, ...]


def compile_source(
    source: SchemaSource | None,
    *,
    mode: Literal["validation", "serialization"],
    role: str,
) -> _Compiled | list[str]:
    """Compile a schema source, or return the problems (each naming `role`)."""
    if source is None:
        return _Compiled(CompiledSchema(dict(EMPTY_OBJECT_SCHEMA)), None, None, ())
    if isinstance(source, type):
        derived = derive(source, mode)
        if isinstance(derived, str):
            return [f"{role}: {derived}"]
        problems = [f"{role} {p}" for p in flat_problems(derived.schema, branches=True)]
        if problems:
            return problems
        compiled = CompiledSchema(derived.schema, nullable=derived.nullable)
        return _Compiled(compiled, derived.adapter, source, derived.fill_none)
    if isinstance(source, JSONSchema):
        raw = source._raw()
    elif isinstance(source, Mapping):
        try:
            raw = JSONSchema(source)._raw()
        except DefinitionError as exc:
            return [f"{role}: {p}" for p in exc.problems]
    else:
        return [
            f"{role}: expected a pydantic model, dataclass, TypedDict, dict or "
            f"tempest.JSONSchema, got {type(source).__name__}"
        ]
    problems = [f"{role} {p}" for p in flat_problems(raw, branches=False)]
    if problems:
        return problems
    return _Compiled(CompiledSchema(raw, inject_defaults=mode == "validation"), None, None, ())


@dataclass(frozen=True, slots=True)
class InputSpec:
    """The input of create, update or an action: validated, defaults applied."""

    schema: CompiledSchema
    adapter: TypeAdapter[Any] | None
    fill_none: tuple[str, ...]
    #: Whether the handler receives the input at all.
    passed: bool
    #: pydantic-core's own validation when it is all `load` does (a typed input
    #: without fields to fill), without TypeAdapter's Python wrapper around it.
    fast: Callable[[Any], Any] | None = None
    #: Whether a loaded value may hold a `SecretStr` or `SecretBytes` (then dispatch
    #: gathers them to mask): never for a raw schema's plain JSON data.
    may_hold_secrets: bool = False

    @classmethod
    def of(cls, compiled: _Compiled, *, passed: bool) -> InputSpec:
        """Wrap a compiled schema source."""
        adapter = compiled.adapter
        fast = None
        if adapter is not None and not compiled.fill_none:
            fast = adapter.validator.validate_python
        secrets = adapter is not None and _may_hold_secrets(adapter.core_schema)
        return cls(compiled.schema, adapter, compiled.fill_none, passed, fast, secrets)

    def load(self, data: dict[str, Any] | None) -> tuple[Any, list[str]]:
        """The value handed to the handler, or the list of input problems.

        The input is checked against the published schema first (names as published,
        aliases included, and no extra field where the schema forbids them), as
        Tempest checks it; a typed input is then built by its model.
        """
        if data is None:
            data = {}
        if self.adapter is not None and not self.schema.is_valid(data):
            return None, self.schema.problems(data)
        if self.fast is not None:
            try:
                return self.fast(data), []
            except ValidationError as exc:
                return None, pydantic_problems(exc)
        adapter = self.adapter
        if adapter is not None:
            if self.fill_none:
                data = dict(data)
                for name in self.fill_none:
                    data.setdefault(name, None)
            try:
                return adapter.validate_python(data), []
            except ValidationError as exc:
                return None, pydantic_problems(exc)
        filled = self.schema.with_defaults(data)
        problems = self.schema.problems(filled)
        return (None, problems) if problems else (filled, [])


def _may_hold_secrets(schema: Any) -> bool:
    """Whether values validated by pydantic's core `schema` (from JSON-like data) may
    hold a `SecretStr` or `SecretBytes`: where the schema names one, or where code of
    the app's own (a validator, a `model_post_init`) may put anything anywhere."""
    from pydantic import SecretBytes, SecretStr

    seen: set[int] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, type):
            if issubclass(node, SecretStr | SecretBytes):
                return True
            continue
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        kind = node.get("type")
        if isinstance(kind, str) and kind.startswith("function-"):
            function = node.get("function")
            if isinstance(function, dict):
                function = function.get("function")
            if not getattr(function, "__module__", "").startswith("pydantic"):
                return True
        if node.get("post_init") or node.get("custom_init"):
            return True
        stack.extend(value for key, value in node.items() if key != "metadata")
    return False


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """An action's output: dumped to JSON-ready data, then checked against its schema."""

    schema: CompiledSchema
    adapter: TypeAdapter[Any] | None
    model: type[Any] | None

    @classmethod
    def of(cls, compiled: _Compiled) -> OutputSpec:
        """Wrap a compiled schema source."""
        return cls(compiled.schema, compiled.adapter, compiled.model)

    def dump(self, value: Any) -> tuple[dict[str, Any] | None, list[str]]:
        """The output as sent, or the list of problems with it."""
        if value is None:
            value = {}
        adapter, model = self.adapter, self.model
        if adapter is not None and model is not None:
            try:
                if not isinstance(value, model):
                    value = adapter.validate_python(value)
                # Optional fields left at None are dropped: their schema is the plain type.
                value = adapter.dump_python(value, mode="json", by_alias=True, exclude_none=True)
            except ValidationError as exc:
                return None, pydantic_problems(exc, "output")
        elif not isinstance(value, Mapping):
            return None, [
                "output: must be an object (a dict or the annotated model), "
                f"not {type(value).__name__}"
            ]
        else:
            value = dict(value)
        problems = self.schema.problems(value, "output")
        if problems:
            value = _jsonable(value)
            if value is not None and not self.schema.problems(value, "output"):
                problems = []
        if problems:
            return None, problems
        return value, []


@dataclass(frozen=True, slots=True)
class PropertiesSpec:
    """A resource type's properties schema, checked on every resource a handler returns."""

    schema: CompiledSchema

    def check(self, properties: Any, prefix: str) -> tuple[Any, list[str]]:
        """The properties as sent (possibly converted to JSON types), or the problems."""
        value = {} if properties is None else properties
        if self.schema.is_valid(value):
            return properties, []
        nullable = self.schema.nullable
        if nullable and isinstance(value, dict) and any(value.get(n, 0) is None for n in nullable):
            # Optional fields are published as their plain type; None means "absent".
            value = {k: v for k, v in value.items() if not (v is None and k in nullable)}
        problems = self.schema.problems(value, prefix)
        if problems:
            # A handler may return Python values (datetime, Enum, UUID) whose JSON form is
            # valid; they are sent in that form anyway, so judge that form.
            converted = _jsonable(value)
            if converted is not None and not self.schema.problems(converted, prefix):
                return converted, []
            return None, problems
        if properties is None:
            return None, []
        return value, []


def _jsonable(value: Any) -> Any:
    try:
        return to_jsonable_python(value)
    except (TypeError, ValueError):
        return None
