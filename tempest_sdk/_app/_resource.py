"""A resource type of an app, and the decorators that register its handlers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar, overload

from .._limits import NO_LIMITS, Limits, Rate
from ..models import Link, ResourceDefinition
from ._definition import OPERATIONS, ResourceSpec, TypeDefinition, supported
from ._errors import DefinitionError
from ._handlers import HandlerDefinition, HandlerKind, analyze
from ._lifespan import Provides
from ._payloads import SchemaSource
from ._shapes import (
    ActionMustReturnItsOutput,
    DeleteMustReturnResourceOrNone,
    HandlerMustReturnResource,
    HealthCheckMustReturnHealth,
    ListMustReturnPage,
)

__all__ = ["ResourceType"]

# Any handler, for the code the decorators share.
F = TypeVar("F", bound=Callable[..., Any])


class ResourceType:
    """A resource type of an app. Its decorators register the handlers.

    Created by `App.resource()`. Each decorator returns the function unchanged, and
    works bare (`@example.create`) or with options (`@example.create(timeout=60)`).

    Example:
        ```python
        example = app.resource("example", properties=ExampleProperties)

        @example.create
        async def create(ctx: tempest.Context, input: Color) -> tempest.Resource: ...
        ```
    """

    __slots__ = ("_actions", "_check_open", "_handlers", "_provides", "_spec")

    def __init__(
        self,
        spec: ResourceSpec,
        provides: Callable[[], Provides | None] = lambda: None,
        check_open: Callable[[str], None] = lambda what: None,
    ) -> None:
        self._spec = spec
        # The type the app's lifespan yields, asked at each registration: the lifespan
        # must be declared before the handlers that take what it yields.
        self._provides = provides
        # Raises once the app is frozen (served, invoked, dispatched to or described).
        self._check_open = check_open
        self._handlers: dict[str, HandlerDefinition] = {}
        self._actions: dict[str, HandlerDefinition] = {}

    @property
    def type(self) -> str:
        """The resource type's name, e.g. `"example"`."""
        return self._spec.type

    @property
    def display_name(self) -> str:
        """The name Tempest shows for the type."""
        return self._spec.display_name

    @property
    def description(self) -> str:
        """What the type is."""
        return self._spec.description

    @property
    def properties_schema(self) -> dict[str, Any] | None:
        """A copy of the published properties schema, or None if the type has none."""
        if self._spec.properties is None:
            return None
        copied: dict[str, Any] = json.loads(json.dumps(self._spec.properties.schema.wire))
        return copied

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations with a handler: some of create, read, update, delete, list."""
        return tuple(op for op in OPERATIONS if op in self._handlers)

    @property
    def actions(self) -> tuple[str, ...]:
        """The names of the type's actions, in registration order."""
        return tuple(self._actions)

    @property
    def has_health_check(self) -> bool:
        """Whether a health-check handler is registered."""
        return "health_check" in self._handlers

    # -- decorators -------------------------------------------------------------------
    #
    # Each decorator accepts the handlers of its operation's shape (`_shapes.py`): mypy
    # and pyright check what a handler returns; its parameters, injected by type in any
    # order, are checked at registration. The function is returned unchanged. The bare
    # overload comes last: pyright explains a handler that no overload accepts with the
    # last one's error, which then names the return type the operation wants.

    @overload
    def create(
        self,
        fn: None = None,
        /,
        *,
        input_schema: SchemaSource | None = None,
        timeout: float | None = None,
    ) -> Callable[[HandlerMustReturnResource], HandlerMustReturnResource]: ...
    @overload
    def create(self, fn: HandlerMustReturnResource, /) -> HandlerMustReturnResource: ...
    def create(
        self,
        fn: HandlerMustReturnResource | None = None,
        /,
        *,
        input_schema: SchemaSource | None = None,
        timeout: float | None = None,
    ) -> (
        HandlerMustReturnResource | Callable[[HandlerMustReturnResource], HandlerMustReturnResource]
    ):
        """Register the create handler.

        It may take a `Context`, the task's `Resource` and the input (annotated with a
        model, dataclass or TypedDict, or `dict[str, Any]` with `input_schema=`), and
        returns the created `Resource` with its `external_id`. Type checkers refuse a
        handler that returns anything else.

        Args:
            fn: The handler (bare decorator form).
            input_schema: A raw schema (or a model) for the input, instead of the annotation.
            timeout: Seconds the handler may run; overrides the resource's and the app's.
        """
        return self._decorate("create", fn, input_schema=input_schema, timeout=timeout)

    @overload
    def read(
        self, fn: None = None, /, *, timeout: float | None = None
    ) -> Callable[[HandlerMustReturnResource], HandlerMustReturnResource]: ...
    @overload
    def read(self, fn: HandlerMustReturnResource, /) -> HandlerMustReturnResource: ...
    def read(
        self, fn: HandlerMustReturnResource | None = None, /, *, timeout: float | None = None
    ) -> (
        HandlerMustReturnResource | Callable[[HandlerMustReturnResource], HandlerMustReturnResource]
    ):
        """Register the read handler: it returns the resource as it now is.

        It may take a `Context` and the task's `Resource` (or nothing), and returns a
        `Resource`. Type checkers refuse a handler that returns anything else.

        Args:
            fn: The handler (bare decorator form).
            timeout: Seconds the handler may run; overrides the resource's and the app's.
        """
        return self._decorate("read", fn, timeout=timeout)

    @overload
    def update(
        self,
        fn: None = None,
        /,
        *,
        input_schema: SchemaSource | None = None,
        timeout: float | None = None,
    ) -> Callable[[HandlerMustReturnResource], HandlerMustReturnResource]: ...
    @overload
    def update(self, fn: HandlerMustReturnResource, /) -> HandlerMustReturnResource: ...
    def update(
        self,
        fn: HandlerMustReturnResource | None = None,
        /,
        *,
        input_schema: SchemaSource | None = None,
        timeout: float | None = None,
    ) -> (
        HandlerMustReturnResource | Callable[[HandlerMustReturnResource], HandlerMustReturnResource]
    ):
        """Register the update handler: it takes the input and returns the updated resource.

        It may take a `Context`, the task's `Resource` and the input, and returns a
        `Resource`. Type checkers refuse a handler that returns anything else.

        Args:
            fn: The handler (bare decorator form).
            input_schema: A raw schema (or a model) for the input, instead of the annotation.
            timeout: Seconds the handler may run; overrides the resource's and the app's.
        """
        return self._decorate("update", fn, input_schema=input_schema, timeout=timeout)

    @overload
    def delete(
        self, fn: None = None, /, *, timeout: float | None = None
    ) -> Callable[[DeleteMustReturnResourceOrNone], DeleteMustReturnResourceOrNone]: ...
    @overload
    def delete(self, fn: DeleteMustReturnResourceOrNone, /) -> DeleteMustReturnResourceOrNone: ...
    def delete(
        self, fn: DeleteMustReturnResourceOrNone | None = None, /, *, timeout: float | None = None
    ) -> (
        DeleteMustReturnResourceOrNone
        | Callable[[DeleteMustReturnResourceOrNone], DeleteMustReturnResourceOrNone]
    ):
        """Register the delete handler: it returns None (the task's resource) or a `Resource`.

        It may take a `Context` and the task's `Resource`. Type checkers refuse a handler
        that returns anything else.

        Args:
            fn: The handler (bare decorator form).
            timeout: Seconds the handler may run; overrides the resource's and the app's.
        """
        return self._decorate("delete", fn, timeout=timeout)

    @overload
    def list(
        self, fn: None = None, /, *, timeout: float | None = None
    ) -> Callable[[ListMustReturnPage], ListMustReturnPage]: ...
    @overload
    def list(self, fn: ListMustReturnPage, /) -> ListMustReturnPage: ...
    def list(
        self, fn: ListMustReturnPage | None = None, /, *, timeout: float | None = None
    ) -> ListMustReturnPage | Callable[[ListMustReturnPage], ListMustReturnPage]:
        """Register the list handler: it takes the page cursor (`str`) and returns a `Page`.

        It may take a `Context` and the cursor, and returns a `Page` (or a list of
        resources). Type checkers refuse a handler that returns anything else.

        Args:
            fn: The handler (bare decorator form).
            timeout: Seconds the handler may run; overrides the resource's and the app's.
        """
        return self._decorate("list", fn, timeout=timeout)

    @overload
    def health_check(
        self, fn: None = None, /, *, timeout: float | None = None
    ) -> Callable[[HealthCheckMustReturnHealth], HealthCheckMustReturnHealth]: ...
    @overload
    def health_check(self, fn: HealthCheckMustReturnHealth, /) -> HealthCheckMustReturnHealth: ...
    def health_check(
        self, fn: HealthCheckMustReturnHealth | None = None, /, *, timeout: float | None = None
    ) -> (
        HealthCheckMustReturnHealth
        | Callable[[HealthCheckMustReturnHealth], HealthCheckMustReturnHealth]
    ):
        """Register the health check: it returns a `Health`; raising means `disrupted`.

        It may take a `Context` (or nothing). Type checkers refuse a handler that
        returns anything else than a `Health`.

        Args:
            fn: The handler (bare decorator form).
            timeout: Seconds the check may run; overrides `check_health(timeout=)`.
        """
        return self._decorate("health_check", fn, timeout=timeout)

    def action(
        self,
        name: str,
        /,
        *,
        display_name: str | None = None,
        description: str = "",
        input_schema: SchemaSource | None = None,
        output_schema: SchemaSource | None = None,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        rate_limit: Rate | None = None,
    ) -> Callable[[ActionMustReturnItsOutput], ActionMustReturnItsOutput]:
        """Register an action: a named command run against one resource.

        The handler may take a `Context`, the `Resource` and the input; it returns the
        output (a model, dataclass, TypedDict or dict, or None for no output), whose
        schema comes from the return annotation or `output_schema=`. Type checkers
        refuse a handler that returns anything else.

        Args:
            name: The action's name, unique within the resource type.
            display_name: The name Tempest shows; defaults to `name`.
            description: What the action does.
            input_schema: A raw schema (or a model) for the input, instead of the annotation.
            output_schema: A raw schema (or a model) for the output, instead of the annotation.
            timeout: Seconds the handler may run; overrides the resource's and the app's.
            max_concurrency: Most tasks of the action that run at once in a runner
                process (the resource type's limits apply too).
            rate_limit: The action's maximum start rate, e.g. `tempest.Rate(1, per=60)`.
        """
        owner = f"resource type {self.type!r}"
        problems = []
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            problems.append(
                f"action name {name!r} must be a non-empty string without surrounding spaces"
            )
        elif name in self._actions:
            problems.append(
                f"action {name!r} is already registered (by {self._actions[name].where}); "
                "action names are unique within a resource type"
            )
        if display_name is not None and not isinstance(display_name, str):
            problems.append(f"display_name must be a string, not {type(display_name).__name__}")
        if not isinstance(description, str):
            problems.append(f"description must be a string, not {type(description).__name__}")
        if problems:
            raise DefinitionError(f"{owner}, action {name!r}", problems)

        def register(fn: ActionMustReturnItsOutput) -> ActionMustReturnItsOutput:
            self._check_open(f"{owner}, action {name!r}")
            local = _caller_locals(1)
            if name in self._actions:
                raise DefinitionError(
                    f"{owner}, action {name!r}",
                    f"action {name!r} is already registered (by {self._actions[name].where})",
                )
            self._actions[name] = analyze(
                "action",
                fn,
                owner=owner,
                input_schema=input_schema,
                output_schema=output_schema,
                timeout=timeout,
                name=name,
                display_name=display_name if display_name is not None else name,
                description=description,
                local=local,
                resource_type=self.type,
                resource_timeout=self._spec.timeout,
                provides=self._provides(),
                max_concurrency=max_concurrency,
                rate_limit=rate_limit,
            )
            return fn

        return register

    def _decorate(
        self,
        kind: HandlerKind,
        fn: F | None,
        *,
        input_schema: SchemaSource | None = None,
        timeout: float | None = None,
    ) -> F | Callable[[F], F]:
        if fn is None:

            def register(handler: F) -> F:
                # Called by the declaring scope itself: its locals are one frame up.
                local = _caller_locals(1)
                self._register(
                    kind, handler, input_schema=input_schema, timeout=timeout, local=local
                )
                return handler

            return register
        # _decorate <- create (or read, ...) <- the declaring scope.
        local = _caller_locals(2)
        self._register(kind, fn, input_schema=input_schema, timeout=timeout, local=local)
        return fn

    def _register(
        self,
        kind: HandlerKind,
        fn: Callable[..., Any],
        *,
        input_schema: SchemaSource | None,
        timeout: float | None,
        local: Mapping[str, Any] | None = None,
    ) -> None:
        owner = f"resource type {self.type!r}"
        self._check_open(f"{owner}, {kind.replace('_', ' ')} handler")
        problems: list[str] = []
        if kind in self._handlers:
            problems.append(
                f"a {kind.replace('_', ' ')} handler is already registered "
                f"({self._handlers[kind].where}); register one per operation"
            )
        if kind in OPERATIONS and self._spec.properties is None:
            problems.append(
                f"a {kind} handler needs a properties schema: pass properties= (a model, "
                f"dict or tempest.JSONSchema) to app.resource({self.type!r}, ...)"
            )
        try:
            definition = analyze(
                kind,
                fn,
                owner=owner,
                input_schema=input_schema,
                timeout=timeout,
                local=local,
                resource_type=self.type,
                resource_timeout=self._spec.timeout,
                provides=self._provides(),
            )
        except DefinitionError as exc:
            raise DefinitionError(exc.where, [*problems, *exc.problems]) from None
        if problems:
            raise DefinitionError(definition.where, problems)
        self._handlers[kind] = definition

    # -- the connect payload ----------------------------------------------------------

    def definition(self) -> ResourceDefinition:
        """The type as declared on connect (every field of `ResourceDefinition`)."""
        return self._freeze().to_wire()

    def _freeze(self, limits: Limits = NO_LIMITS) -> TypeDefinition:
        """The type's declarations as an immutable value, with the type's `limits`."""
        return TypeDefinition(
            spec=self._spec,
            handlers=MappingProxyType(dict(self._handlers)),
            actions=MappingProxyType(dict(self._actions)),
            limits=limits,
        )

    def supported(self) -> str:
        """What the type supports, for error messages."""
        return supported(self._handlers, self._actions)

    def __repr__(self) -> str:
        return f"<ResourceType {self.type!r}: {self.supported()}>"


def _caller_locals(depth: int) -> Mapping[str, Any] | None:
    """The local names of the frame `depth` levels above the caller.

    Annotations under `from __future__ import annotations` are strings; a model
    declared inside a function (a test, a factory) is only found among its locals.
    """
    try:
        return sys._getframe(depth + 1).f_locals
    except ValueError:  # pragma: no cover - shallower stack than expected
        return None


def check_links(links: object) -> tuple[tuple[Link, ...], list[str]]:
    """The links as a tuple, or the problems with them."""
    if links is None:
        return (), []
    if isinstance(links, str | bytes | Mapping) or not isinstance(links, Sequence):
        return (), ["links must be a list of tempest.Link (e.g. [tempest.Link.documentation(url)])"]
    bad = [i for i, link in enumerate(links) if not isinstance(link, Link)]
    if bad:
        return (), [
            f"links[{i}] is a {type(links[i]).__name__}, not a tempest.Link "
            "(build one with tempest.Link.documentation(url, title) and friends)"
            for i in bad
        ]
    return tuple(links), []
