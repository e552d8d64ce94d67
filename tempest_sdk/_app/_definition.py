"""An app's declarations, frozen: the value that `dispatch` and health checks run from.

An `App` is built up by declarations (`app.resource`, decorators, `app.lifespan`).
`app.freeze()` (called by whatever serves, invokes, dispatches to or describes the app)
turns them into an `AppDefinition`: app, resource types, handler definitions, schemas,
limits and the lifespan, all immutable. From then on declaring is an error, and what
runs is a function of that value, the lifespan's state and the task.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._limits import NO_LIMITS, Limits
from ..models import ActionDefinition, ConnectRequest, Link, Links, ResourceDefinition
from ._handlers import HandlerDefinition
from ._lifespan import Provides

if TYPE_CHECKING:
    from ._payloads import PropertiesSpec
    from ._validate import CompiledSchema

__all__ = [
    "OPERATIONS",
    "AppDefinition",
    "ResourceSpec",
    "TypeDefinition",
    "supported",
]

OPERATIONS = ("create", "read", "update", "delete", "list")
"""The operations, in the order messages list them."""


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """Everything `app.resource(...)` declared about a resource type, checked."""

    type: str
    display_name: str
    description: str
    lifecycle_stage: str
    links: tuple[Link, ...]
    instructions: str | None
    properties: PropertiesSpec | None
    timeout: float | None


@dataclass(frozen=True, slots=True)
class TypeDefinition:
    """One resource type, frozen.

    Attributes:
        spec: what `app.resource(...)` declared (name, schemas, timeout).
        handlers: the handler of each operation (and `health_check`), by name.
        actions: the handler of each action, by the action's name (each with its
            own `limits`).
        limits: the type's limits, over all its tasks (operations, lists, actions).
    """

    spec: ResourceSpec
    handlers: Mapping[str, HandlerDefinition]
    actions: Mapping[str, HandlerDefinition]
    limits: Limits = NO_LIMITS

    @property
    def name(self) -> str:
        """The resource type's name."""
        return self.spec.type

    def supported(self) -> str:
        """What the type supports, for error messages."""
        return supported(self.handlers, self.actions)

    def to_wire(self) -> ResourceDefinition:
        """The type as declared on connect (every field of `ResourceDefinition`)."""
        spec, handlers = self.spec, self.handlers

        def input_schema(kind: str) -> dict[str, Any] | None:
            handler = handlers.get(kind)
            return _wire(handler.input.schema) if handler and handler.input else None

        fields: dict[str, Any] = {
            "type": spec.type,
            "display_name": spec.display_name,
            "description": spec.description,
            "lifecycle_stage": spec.lifecycle_stage,
            "list_supported": "list" in handlers,
            "read_supported": "read" in handlers,
            "create_supported": "create" in handlers,
            "update_supported": "update" in handlers,
            "delete_supported": "delete" in handlers,
            "healthcheck_supported": "health_check" in handlers,
        }
        if spec.properties is not None:
            fields["property_json_schema"] = _wire(spec.properties.schema)
        if "create" in handlers:
            fields["create_input_schema"] = input_schema("create")
        if "update" in handlers:
            fields["update_input_schema"] = input_schema("update")
        if spec.links:
            fields["links"] = Links(links=[link.model_copy(deep=True) for link in spec.links])
        if spec.instructions is not None:
            fields["instructions_markdown"] = spec.instructions
        if self.actions:
            fields["actions"] = [
                ActionDefinition(
                    name=action.name,
                    display_name=action.display_name,
                    description=action.description,
                    input_json_schema=_wire(action.input.schema) if action.input else None,
                    output_json_schema=_wire(action.output.schema) if action.output else None,
                )
                for action in self.actions.values()
            ]
        return ResourceDefinition(**fields)


@dataclass(frozen=True, slots=True)
class AppDefinition:
    """An app version, frozen: its identity, resource types, limits and lifespan.

    Attributes:
        app_id: the app's id.
        version: the app version.
        types: the resource types, in declaration order.
        lifespan: the function that runs once around serving, if declared.
        provides: the class its lifespan yields and that class's parts (what handlers
            may take by type).
    """

    app_id: str
    version: str
    types: Mapping[str, TypeDefinition]
    lifespan: Callable[..., Any] | None = None
    provides: Provides = field(default_factory=Provides)

    def describe(self) -> ConnectRequest:
        """The connect request: every resource type with its flags, schemas and actions."""
        return ConnectRequest(
            app_id=self.app_id,
            version=self.version,
            resources=[definition.to_wire() for definition in self.types.values()],
        )

    def limits_for(self, resource_type: str, action: str | None = None) -> Limits:
        """The limits of an action (with `action`) or of a resource type (without)."""
        definition = self.types.get(resource_type)
        if definition is None:
            return NO_LIMITS
        if action is None:
            return definition.limits
        handler = definition.actions.get(action)
        return handler.limits if handler is not None else NO_LIMITS


def supported(handlers: Mapping[str, object], actions: Mapping[str, object]) -> str:
    """What a type with these handlers and actions supports, in words (for messages)."""
    parts = [operation for operation in OPERATIONS if operation in handlers]
    if "health_check" in handlers:
        parts.append("health check")
    if actions:
        parts.append("actions " + ", ".join(repr(a) for a in actions))
    return ", ".join(parts) if parts else "nothing yet (no handler is registered)"


def _wire(schema: CompiledSchema | None) -> dict[str, Any] | None:
    """A deep copy of a published schema: the connect payload must not share it."""
    if schema is None:
        return None
    copied: dict[str, Any] = json.loads(json.dumps(schema.wire))
    return copied
