"""Raw JSON Schemas: loading them offline, and the rules Tempest puts on every schema.

`jsonschema` is imported on first use (it is slow to import), that is when an app
module declares a schema, never by `import tempest_sdk`.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from .._jsonschema import declared_types
from ._errors import DefinitionError

__all__ = [
    "DRAFT_07",
    "EMPTY_OBJECT_SCHEMA",
    "JSONSchema",
    "flat_problems",
    "jsonschema_lib",
    "resolve_user_path",
    "validator_class",
]

DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"

# Tempest's own meta-schemas, named by the schemas of its Go examples. They describe
# draft-07 schemas, so they are read as draft-07 and never fetched.
TEMPEST_META_SCHEMAS: Final = frozenset(
    {
        "https://developer.tempestdx.com/schema/v1/tempest-app-schema.json",
        "https://developer.tempestdx.com/schema/v1/tempest-properties-schema.json",
    }
)

# The schema of an input or output nobody described: any object.
EMPTY_OBJECT_SCHEMA: Final[Mapping[str, Any]] = {"type": "object", "properties": {}}

_FLAT_FIX = (
    "Tempest accepts only flat schemas: flatten it into top-level fields of simple "
    "types (string, number, integer, boolean, or arrays of those)"
)


class JSONSchema:
    """A raw JSON Schema, used as written: accepted wherever a model is.

    It is published unchanged in the connect payload; the handler receives a
    validated `dict` with top-level defaults applied. `$schema` may name a JSON
    Schema draft, or Tempest's meta-schemas (read as draft-07); nothing is fetched.

    Example:
        ```python
        properties = tempest.JSONSchema.from_file("schema/properties.json")
        create_input = tempest.JSONSchema({"type": "object", "properties": {...}})
        ```

    Raises:
        DefinitionError: the schema is not a JSON object, is not valid against its
            draft's meta-schema, names an unknown `$schema`, or has a `$ref` that
            cannot be resolved offline.
    """

    __slots__ = ("_schema", "source")

    def __init__(self, schema: Mapping[str, Any], *, source: str | None = None) -> None:
        self.source = source
        where = f"JSON Schema {source}" if source else "JSON Schema"
        if not isinstance(schema, Mapping):
            raise DefinitionError(
                where, f"a schema must be a JSON object (a dict), not {type(schema).__name__}"
            )
        try:
            # A JSON round trip checks that it is plain JSON and makes a private copy.
            copied = json.loads(json.dumps(schema))
        except (TypeError, ValueError) as exc:
            raise DefinitionError(where, f"the schema is not plain JSON: {exc}") from None
        problems = schema_problems(copied)
        if problems:
            raise DefinitionError(where, problems)
        self._schema: dict[str, Any] = copied

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> JSONSchema:
        """Load a schema from a JSON file.

        A relative path is resolved against the directory of the module that calls
        `from_file` (like Go's `embed`), so the app works from any working directory.

        Raises:
            DefinitionError: the file cannot be read, is not JSON, or is not a valid schema.
        """
        resolved = resolve_user_path(path, stacklevel=2)
        try:
            text = resolved.read_text(encoding="utf-8")
        except OSError as exc:
            raise DefinitionError(
                f"JSON Schema file {os.fspath(path)!r}",
                f"cannot read {str(resolved)!r}: {exc.strerror or exc}; relative paths are "
                "resolved against the directory of the module that calls from_file()",
            ) from None
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise DefinitionError(
                f"JSON Schema file {str(resolved)!r}", f"the file is not valid JSON: {exc}"
            ) from None
        return cls(loaded, source=repr(str(resolved)))

    @property
    def schema(self) -> dict[str, Any]:
        """A copy of the schema, as it goes into the connect payload."""
        copied: dict[str, Any] = json.loads(json.dumps(self._schema))
        return copied

    def _raw(self) -> dict[str, Any]:
        return self._schema

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JSONSchema):
            return self._schema == other._schema
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self.source:
            return f"JSONSchema.from_file({self.source})"
        return f"JSONSchema({self._schema!r})"


def resolve_user_path(path: str | os.PathLike[str], *, stacklevel: int) -> Path:
    """Resolve `path` against the directory of the module `stacklevel` frames up.

    `stacklevel=1` is the function that calls this one, 2 is its caller, and so on.
    """
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    frame = inspect.currentframe()
    try:
        for _ in range(stacklevel):
            if frame is None:
                break
            frame = frame.f_back
        filename = frame.f_globals.get("__file__") if frame is not None else None
    finally:
        del frame
    if isinstance(filename, str):
        return Path(filename).resolve().parent / candidate
    return candidate.resolve()


def jsonschema_lib() -> Any:
    """The `jsonschema` package, imported on first use (it takes ~0.1 s to import)."""
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    return jsonschema


def validator_class(schema: Mapping[str, Any]) -> Any:
    """The `jsonschema` validator class for the dialect `schema` declares, or None if unknown."""
    lib = jsonschema_lib()
    dialect = schema.get("$schema")
    if dialect is None or dialect in TEMPEST_META_SCHEMAS:
        return lib.Draft7Validator
    if not isinstance(dialect, str):
        return None
    return lib.validators.validator_for(schema, default=None)


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """Why a raw schema cannot be used: unknown dialect, invalid, unresolvable `$ref`."""
    cls = validator_class(schema)
    if cls is None:
        return [
            f"unknown $schema {schema.get('$schema')!r}: use a JSON Schema draft "
            f"(e.g. {DRAFT_07!r}), one of Tempest's meta-schemas, or leave $schema out"
        ]
    error = jsonschema_lib().exceptions.best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return [f"not a valid schema at {where}: {error.message}"]
    problems = []
    for ref in _refs(schema):
        if not ref.startswith("#"):
            problems.append(
                f"$ref {ref!r} points outside the schema; schemas load offline, so "
                "inline the referenced schema or move it under 'definitions'"
            )
        elif not _pointer_exists(schema, ref[1:]):
            problems.append(f"$ref {ref!r} points at nothing in this schema")
    return problems


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for key, value in node.items():
            if key not in ("enum", "const", "default", "examples"):
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _pointer_exists(document: Any, pointer: str) -> bool:
    if pointer in ("", "/"):
        return True
    node = document
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def flat_problems(schema: Mapping[str, Any], *, branches: bool) -> list[str]:
    """Fields of `schema` that Tempest rejects: objects, arrays of objects, `$ref`s.

    This is the rule Tempest's Go SDK applies to every schema it parses. `branches`
    also looks inside `anyOf`/`oneOf`/`allOf` (for schemas derived from type hints,
    where a union of models would otherwise slip through).
    """
    properties = schema.get("properties")
    if properties is None:
        return []
    if not isinstance(properties, Mapping):
        return ["'properties' must be an object mapping field names to schemas"]
    problems = []
    for name, field in properties.items():
        if not isinstance(field, Mapping):
            continue
        shapes = [field]
        if branches:
            for keyword in ("anyOf", "oneOf", "allOf"):
                shapes.extend(b for b in field.get(keyword, ()) if isinstance(b, Mapping))
        if "$ref" in field:
            problems.append(f"field {name!r} is a $ref; {_FLAT_FIX}")
        elif any("object" in declared_types(shape) for shape in shapes):
            problems.append(f"field {name!r} is an object; {_FLAT_FIX}")
        elif any(
            "array" in declared_types(shape)
            and isinstance(shape.get("items"), Mapping)
            and "object" in declared_types(shape["items"])
            for shape in shapes
        ):
            problems.append(f"field {name!r} is an array of objects; {_FLAT_FIX}")
    return problems
