"""The OpenAPI document of what the emulator serves, built from the SDK's own models.

Each endpoint's request body is the strict shape the emulator checks it against
(`_shape.py`, compiled from the wire models), and each answer the model the SDK reads
it with, so the document says exactly what this emulator accepts and sends. It is
OpenAPI 3.0.3 like the Tempest contract, with the contract's schema names, so the
two can be compared schema by schema (`tests/emulator/test_openapi_contract.py`).

The emulator serves it at `GET {base_path}/openapi.json`; `openapi_document()`
returns it without a server.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Final

from .. import models as wire
from ._shape import (
    Shape,
    _Any,
    _Array,
    _DateTime,
    _Enum,
    _Model,
    _Nullable,
    _Type,
    _Union,
    compile_model,
)
from ._validation import ENDPOINT_MODELS

__all__ = ["OPENAPI_PATH", "openapi_document"]

OPENAPI_PATH: Final = "openapi.json"
"""Where the document is served, under the emulator's `base_path`."""

# The contract's names for the schemas whose model is named otherwise in the SDK.
_CONTRACT_NAMES: Final = {
    "Task": "NextResponse",
    "TaskReport": "ReportResponse",
    "Link": "LinksItem",
}
_REF: Final = "#/components/schemas/"

# What each endpoint answers with 200 (the next endpoint also answers 204: no task).
_ANSWERS: Final[dict[str, type[wire.WireModel]]] = {
    "apps.version.connect": wire.StandardResponse,
    "apps.operations.next": wire.Task,
    "apps.operations.report": wire.StandardResponse,
    "apps.versions.health": wire.StandardResponse,
    "resources.get": wire.Resource,
    "resources.list": wire.ListResourcesResponse,
    "projects.get": wire.Project,
    "projects.list": wire.ListProjectsResponse,
    "recipes.get": wire.Recipe,
    "recipes.list": wire.ListRecipesResponse,
}
_ERRORS: Final = {
    "400": "The body breaks the contract: `error` says what and where",
    "401": "Missing or invalid bearer token",
    "500": "The emulator failed on this request (a bug: see its log)",
}
_NOT_FOUND: Final = frozenset(
    {"apps.operations.report", "resources.get", "projects.get", "recipes.get"}
)


def openapi_document(base_path: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the endpoints the emulator serves.

    Args:
        base_path: the path the endpoints live under (the emulator's `base_path`),
            written as the document's server URL.

    Returns:
        A fresh JSON-ready dict (the caller may change it).
    """
    document = copy.deepcopy(_document())
    document["servers"] = [{"url": base_path or "/", "description": "the emulator"}]
    return document


@cache
def _document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for endpoint, body_model in ENDPOINT_MODELS.items():
        body = _schema(compile_model(body_model), schemas)
        if endpoint == "apps.version.connect":
            # The contract writes the connect body inline, not as a named schema.
            body = schemas.pop(body["$ref"][len(_REF) :])
        responses: dict[str, Any] = {
            "200": _json("Success", _schema(compile_model(_ANSWERS[endpoint]), schemas))
        }
        if endpoint == "apps.operations.next":
            responses["204"] = {"description": "No task is waiting"}
        error = _schema(compile_model(wire.ErrorResponse), schemas)
        for status, description in _ERRORS.items():
            responses[status] = _json(description, error)
        if endpoint in _NOT_FOUND:
            responses["404"] = _json("No such task or object", error)
        paths[f"/{endpoint}"] = {
            "post": {
                "operationId": _operation_id(endpoint),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": dict(sorted(responses.items())),
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Private Apps API (tempest_sdk emulator)",
            "version": "1.0.0",
            "description": (
                "What the tempest_sdk emulator serves, built from the SDK's wire models."
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"Token": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(schemas.items())),
        },
        "security": [{"Token": []}],
    }


def _operation_id(endpoint: str) -> str:
    # The contract's style: apps.operations.next -> postAppsOperationsNext.
    return "post" + "".join(part[:1].upper() + part[1:] for part in endpoint.split("."))


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _name(model: _Model) -> str:
    return _CONTRACT_NAMES.get(model.name, model.name)


def _schema(shape: Shape, schemas: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema of one shape; models go to `schemas` and are referenced."""
    if isinstance(shape, _Model):
        name = _name(shape)
        if name not in schemas:
            schemas[name] = {}  # Registered first, so a recursive model terminates.
            schemas[name] = _object(shape, schemas)
        return {"$ref": _REF + name}
    if isinstance(shape, _Nullable):
        inner = _schema(shape.inner, schemas)
        # OpenAPI 3.0 ignores the siblings of a $ref: wrap it to say it may be null.
        return (
            {"allOf": [inner], "nullable": True} if "$ref" in inner else {**inner, "nullable": True}
        )
    if isinstance(shape, _Array):
        return {"type": "array", "items": _schema(shape.item, schemas)}
    if isinstance(shape, _Union):
        mapping = {tag: _REF + _name(member) for tag, member in shape.members.items()}
        members = list({id(member): member for member in shape.members.values()}.values())
        refs = [_schema(member, schemas) for member in members]
        return {
            "oneOf": refs,
            "discriminator": {"propertyName": shape.discriminator, "mapping": mapping},
        }
    if isinstance(shape, _Enum):
        return {"type": "string", "enum": list(shape.values)}
    if isinstance(shape, _DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(shape, _Type):
        return {"type": _JSON_TYPES[shape.types]}
    if isinstance(shape, _Any):
        return {}
    raise TypeError(f"no OpenAPI schema for the shape {shape!r}")  # pragma: no cover


_JSON_TYPES: Final[dict[tuple[type, ...], str]] = {
    (str,): "string",
    (int,): "integer",
    (int, float): "number",
    (bool,): "boolean",
    (dict,): "object",
}


def _object(model: _Model, schemas: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: _schema(spec.shape, schemas) for spec in model.fields},
    }
    required = [spec.name for spec in model.fields if spec.required]
    if required:
        schema["required"] = required
    if model.forbid_extra:
        schema["additionalProperties"] = False
    return schema
