"""An app's declarations, frozen: the value `dispatch` and health checks run from.

An `App` is built up by declarations (`app.resource`, decorators, `app.lifespan`).
The first time it is served, invoked, dispatched to or described, they freeze into an
`AppDefinition`: app, resource types, handler definitions, schemas and limits, all
immutable. From then on declaring is an error, and what runs is a function of that
value and the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from .._limits import NO_LIMITS, Limits
from ._handlers import HandlerDefinition

if TYPE_CHECKING:
    from ._resource import ResourceSpec, ResourceType

__all__ = ["OPERATIONS", "AppDefinition", "TypeDefinition", "freeze_types", "supported"]

OPERATIONS = ("create", "read", "update", "delete", "list")
"""The operations, in the order messages list them."""


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


@dataclass(frozen=True, slots=True)
class AppDefinition:
    """An app version, frozen: its identity and its resource types by name.

    Attributes:
        app_id: the app's id.
        version: the app version.
        types: the resource types, in declaration order.
    """

    app_id: str
    version: str
    types: Mapping[str, TypeDefinition]


def supported(handlers: Mapping[str, object], actions: Mapping[str, object]) -> str:
    """What a type with these handlers and actions supports, in words (for messages)."""
    parts = [operation for operation in OPERATIONS if operation in handlers]
    if "health_check" in handlers:
        parts.append("health check")
    if actions:
        parts.append("actions " + ", ".join(repr(a) for a in actions))
    return ", ".join(parts) if parts else "nothing yet (no handler is registered)"


def freeze_types(
    types: Mapping[str, ResourceType], limits: Mapping[str, Limits] | None = None
) -> Mapping[str, TypeDefinition]:
    """Freeze declared resource types (the one place that reads their insides), with
    the limits declared for them by name."""
    limits = limits or {}
    return MappingProxyType(
        {
            name: TypeDefinition(
                spec=resource_type._spec,
                handlers=MappingProxyType(dict(resource_type._handlers)),
                actions=MappingProxyType(dict(resource_type._actions)),
                limits=limits.get(name, NO_LIMITS),
            )
            for name, resource_type in types.items()
        }
    )
