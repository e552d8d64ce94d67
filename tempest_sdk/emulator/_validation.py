"""Request bodies checked against the contract, endpoint by endpoint.

Each endpoint's body is parsed once, checked against the strict shape of its wire
model, then read by the model itself (so whatever the emulator accepts, the SDK's own
models accept too), then against the rules the control plane adds on top of the
schema (connect: identifiers, unique names, flat properties schemas).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from .._jsonschema import declared_types
from ..models import (
    AppHealthReportRequest,
    AppRequest,
    ConnectRequest,
    RequestObjectById,
    RequestPaginatedObjects,
    TaskReport,
    WireModel,
    describe_errors,
)
from ._shape import Shape, compile_model, describe_value

__all__ = ["APP_ID_PATTERN", "ENDPOINT_MODELS", "VERSION_PATTERN", "BodyError", "check_body"]

ENDPOINT_MODELS: Final[Mapping[str, type[WireModel]]] = {
    "apps.version.connect": ConnectRequest,
    "apps.operations.next": AppRequest,
    "apps.operations.report": TaskReport,
    "apps.versions.health": AppHealthReportRequest,
    "resources.get": RequestObjectById,
    "resources.list": RequestPaginatedObjects,
    "projects.get": RequestObjectById,
    "projects.list": RequestPaginatedObjects,
    "recipes.get": RequestObjectById,
    "recipes.list": RequestPaginatedObjects,
}
"""The body model of every endpoint of the contract, by endpoint name."""

_SHAPES: Final[dict[str, Shape]] = {}

# One message should stay readable: the first problems are enough to fix the next one.
_MAX_PROBLEMS = 10

APP_ID_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9-]+$")
VERSION_PATTERN: Final = re.compile(r"^v\d+$")
_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BodyError(Exception):
    """A request body that breaks the contract; `problems` are `path: expected, got` lines."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:_MAX_PROBLEMS]
        more = len(problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more else "")
        super().__init__(text)
        self.problems = tuple(problems)


def check_body(endpoint: str, body: bytes) -> dict[str, Any]:
    """Parse and check the body of a request to `endpoint`; return it as a dict.

    Raises:
        BodyError: the body is not JSON, breaks the contract's schema or a rule of
            the control plane.
    """
    if not body:
        raise BodyError(["body: expected a JSON object, got an empty body"])
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise BodyError(["body: expected UTF-8 JSON, got bytes that are not UTF-8"]) from None
    except ValueError as exc:
        raise BodyError([f"body: expected JSON, got invalid JSON ({exc})"]) from None
    model = ENDPOINT_MODELS[endpoint]
    shape = _SHAPES.get(endpoint)
    if shape is None:
        shape = _SHAPES[endpoint] = compile_model(model)
    problems: list[str] = []
    shape.check(data, "", problems)
    if problems:
        raise BodyError(problems)
    try:
        model.from_wire(data)
    except ValidationError as exc:
        # The strict shape should have caught it; the model is the last word.
        raise BodyError([describe_errors(exc)]) from None
    if endpoint == "apps.version.connect":
        problems = connect_problems(data)
        if problems:
            raise BodyError(problems)
    return data  # type: ignore[no-any-return]


def connect_problems(data: Mapping[str, Any]) -> list[str]:
    """Rules of the control plane for a (schema-valid) connect body."""
    problems = []
    if not APP_ID_PATTERN.fullmatch(data["app_id"]):
        problems.append(
            f"app_id: expected an id matching {APP_ID_PATTERN.pattern} (lowercase letters, digits "
            f"and '-'), got {_short(data['app_id'])}"
        )
    if not VERSION_PATTERN.fullmatch(data["version"]):
        problems.append(
            f"version: expected a version matching {VERSION_PATTERN.pattern} (like 'v1'), "
            f"got {_short(data['version'])}"
        )
    seen: set[str] = set()
    for index, resource in enumerate(data["resources"]):
        path = f"resources[{index}]"
        kind = resource["type"]
        if not _TYPE_NAME.match(kind):
            problems.append(
                f"{path}.type: expected a name matching {_TYPE_NAME.pattern}, got {_short(kind)}"
            )
        elif kind in seen:
            problems.append(f"{path}.type: expected a type name not used before, got {kind!r}")
        seen.add(kind)
        problems += _action_problems(path, resource.get("actions") or [])
        schema = resource.get("property_json_schema")
        if schema is not None:
            problems += _properties_schema_problems(f"{path}.property_json_schema", schema)
    return problems


def _action_problems(path: str, actions: list[dict[str, Any]]) -> list[str]:
    problems = []
    names: set[str] = set()
    for index, action in enumerate(actions):
        name = action.get("name")
        where = f"{path}.actions[{index}].name"
        if not isinstance(name, str) or not name:
            got = "nothing" if name is None else describe_value(name)
            problems.append(f"{where}: expected the action's name, got {got}")
        elif name in names:
            problems.append(f"{where}: expected an action name not used before, got {name!r}")
        else:
            names.add(name)
    return problems


def _properties_schema_problems(path: str, schema: Mapping[str, Any]) -> list[str]:
    # Tempest rejects a properties schema that is not a flat object schema.
    if schema.get("type") != "object":
        return [f"{path}.type: expected 'object', got {_short(schema.get('type'))}"]
    properties = schema.get("properties") or {}
    if not isinstance(properties, dict):
        return [f"{path}.properties: expected an object, got {describe_value(properties)}"]
    problems = []
    rule = "(Tempest rejects nested objects, arrays of objects and $ref in properties)"
    for name, prop in properties.items():
        where = f"{path}.properties.{name}"
        if not isinstance(prop, dict):
            problems.append(f"{where}: expected a schema object, got {describe_value(prop)}")
        elif "$ref" in prop:
            problems.append(f"{where}: expected an inline schema {rule}, got a $ref")
        elif "object" in declared_types(prop):
            problems.append(f"{where}: expected a non-object property {rule}, got an object")
        elif _is_array_of_objects(prop):
            problems.append(
                f"{where}: expected a non-object property {rule}, got an array of objects"
            )
    return problems


def _is_array_of_objects(prop: Mapping[str, Any]) -> bool:
    items = prop.get("items")
    if "array" not in declared_types(prop) or not isinstance(items, dict):
        return False
    return "object" in declared_types(items) or "$ref" in items


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    if value is None:
        return "nothing"
    return describe_value(value)
