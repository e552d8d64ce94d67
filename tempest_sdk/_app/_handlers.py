"""Reading a handler's signature once, at registration: what to inject, what it returns.

Parameters are placed by type, never by name: `Context`, `Resource`, the input type
(create, update, actions), and a `str` cursor (list). Anything the SDK cannot place
fails at registration with a `DefinitionError`.
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import operator
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._limits import NO_LIMITS, Limits, Rate, check_limits
from ..models import Resource
from ._context import Context
from ._derive import is_schema_type
from ._errors import DefinitionError
from ._lifespan import Provides
from ._payloads import InputSpec, OutputSpec, SchemaSource, compile_source
from ._results import Health, Page
from ._schema import JSONSchema

__all__ = ["SLOT_INDEX", "HandlerDefinition", "HandlerKind", "Part", "Slot", "analyze"]

HandlerKind = Literal["create", "read", "update", "delete", "list", "health_check", "action"]


class Slot(enum.Enum):
    """What the SDK passes for one parameter."""

    CONTEXT = "tempest.Context"
    RESOURCE = "tempest.Resource (the task's resource)"
    INPUT = "the input (a pydantic model, dataclass, TypedDict, or dict[str, Any])"
    CURSOR = "str (the page cursor)"
    STATE = "what the app's lifespan yields (the type it is annotated with), or a part of it"


@dataclass(frozen=True, slots=True)
class Part:
    """A parameter that receives one field of the lifespan's state (by its type)."""

    name: str

    @property
    def slot(self) -> Slot:
        """The slot a part fills: the state's."""
        return Slot.STATE


Injected = Slot | Part
"""What the SDK passes for one parameter: a slot, or one part of the state."""


_ALLOWED: dict[str, tuple[Slot, ...]] = {
    "create": (Slot.CONTEXT, Slot.RESOURCE, Slot.INPUT, Slot.STATE),
    "read": (Slot.CONTEXT, Slot.RESOURCE, Slot.STATE),
    "update": (Slot.CONTEXT, Slot.RESOURCE, Slot.INPUT, Slot.STATE),
    "delete": (Slot.CONTEXT, Slot.RESOURCE, Slot.STATE),
    "list": (Slot.CONTEXT, Slot.CURSOR, Slot.STATE),
    "health_check": (Slot.CONTEXT, Slot.STATE),
    "action": (Slot.CONTEXT, Slot.RESOURCE, Slot.INPUT, Slot.STATE),
}

_RETURNS = {
    "create": "tempest.Resource",
    "read": "tempest.Resource",
    "update": "tempest.Resource",
    "delete": "tempest.Resource or None",
    "list": "tempest.Page (or list[tempest.Resource])",
    "health_check": "tempest.Health",
}

_NO_HINT = object()


# Where each slot's value sits in the tuple `dispatch` builds for a call.
SLOT_INDEX = {Slot.CONTEXT: 0, Slot.RESOURCE: 1, Slot.INPUT: 2, Slot.CURSOR: 3, Slot.STATE: 4}


def _getter(injected: tuple[Injected, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    if any(isinstance(item, Part) for item in injected):
        state = SLOT_INDEX[Slot.STATE]
        pickers = tuple(
            operator.attrgetter(item.name) if isinstance(item, Part) else None for item in injected
        )
        indexes = tuple(SLOT_INDEX[item] if isinstance(item, Slot) else state for item in injected)
        pairs = tuple(zip(pickers, indexes, strict=True))
        return lambda values: tuple(
            values[index] if picker is None else picker(values[index]) for picker, index in pairs
        )
    indexes = tuple(SLOT_INDEX[item] for item in injected if isinstance(item, Slot))
    if not indexes:
        return lambda values: ()
    if len(indexes) == 1:
        (index,) = indexes
        return lambda values: (values[index],)
    return operator.itemgetter(*indexes)


@dataclass(frozen=True, slots=True)
class HandlerDefinition:
    """A registered handler: how to call it and what its input and output look like.

    `args(values)` picks the positional arguments out of the tuple
    `(context, resource, input, cursor, state)`; `keyword` names the keyword-only ones.
    """

    kind: HandlerKind
    fn: Callable[..., Any]
    is_async: bool
    positional: tuple[Injected, ...]
    keyword: tuple[tuple[str, Injected], ...]
    input: InputSpec | None
    output: OutputSpec | None
    #: The handler's own timeout, else its resource type's; None: the caller's default.
    timeout: float | None
    where: str
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    #: What the handler does, for messages: "create of 'example'", "action 'x' of 'example'".
    what: str = ""
    #: An action's own limits (its resource type's apply too); operations have none.
    limits: Limits = NO_LIMITS
    wants_context: bool = field(init=False)
    wants_state: bool = field(init=False)
    args: Callable[[tuple[Any, ...]], tuple[Any, ...]] = field(init=False, repr=False)
    kwargs: tuple[tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]], ...] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        injected = (*self.positional, *(item for _, item in self.keyword))
        slots = {item.slot if isinstance(item, Part) else item for item in injected}
        object.__setattr__(self, "wants_context", Slot.CONTEXT in slots)
        object.__setattr__(self, "wants_state", Slot.STATE in slots)
        object.__setattr__(self, "args", _getter(self.positional))
        object.__setattr__(
            self, "kwargs", tuple((name, _getter((item,))) for name, item in self.keyword)
        )


def _location(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return name
    return f"{name} ({code.co_filename}:{code.co_firstlineno})"


def _strip_annotated(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _is_raw_mapping(hint: Any) -> bool:
    if hint is dict:
        return True
    origin = typing.get_origin(hint)
    return origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _classify(hint: Any, provides: Provides) -> Injected | str | None:
    """What a parameter annotated `hint` receives; a problem (str) when ambiguous."""
    if isinstance(hint, type):
        # First: the lifespan's type and its parts may be dataclasses or models, like
        # an input.
        provided = provides.whole
        if provided is not None and hint is not object and _provides(provided, hint):
            return Slot.STATE
        if hint is not object:
            parts = provides.parts_of(hint)
            if len(parts) == 1:
                return Part(parts[0])
            if parts:
                names = " and ".join(repr(name) for name in parts)
                assert provided is not None  # parts come from the provided class
                return (
                    f"the lifespan's {provided.__qualname__} has {len(parts)} parts of type "
                    f"{_describe_hint(hint)} ({names}): take {provided.__qualname__} itself "
                    "and pick one, or give each part its own type"
                )
        if issubclass(hint, Context):
            return Slot.CONTEXT
        if issubclass(hint, Resource):
            return Slot.RESOURCE
        if hint is str:
            return Slot.CURSOR
        if is_schema_type(hint):
            return Slot.INPUT
    if _is_raw_mapping(hint):
        return Slot.INPUT
    return None


def _provides(provided: type, hint: type) -> bool:
    try:
        return issubclass(provided, hint)
    except TypeError:  # a TypedDict, or a class that refuses subclass checks
        return False


def _no_provider(provides: Provides) -> str:
    provided = provides.whole
    if provided is not None:
        parts = ", ".join(
            f"{name}: {_describe_hint(part)}" for name, part in provides.parts.items()
        )
        return f" (the lifespan yields {provided.__qualname__}" + (
            f", whose parts are {parts})" if parts else ")"
        )
    return (
        ". Shared clients come from the app's lifespan: declare @app.lifespan, its return "
        "annotated like AsyncIterator[Clients], before the handlers that take Clients"
    )


def _describe_hint(hint: Any) -> str:
    return getattr(hint, "__qualname__", None) or repr(hint)


def _type_hints(fn: Callable[..., Any], local: Mapping[str, Any] | None) -> dict[str, Any]:
    target: Any = fn
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and callable(fn):
        target = type(fn).__call__
    return typing.get_type_hints(
        target, localns=dict(local) if local is not None else None, include_extras=True
    )


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    # A callable object with an `async def __call__`.
    return not inspect.isfunction(fn) and inspect.iscoroutinefunction(type(fn).__call__)


def analyze(
    kind: HandlerKind,
    fn: Callable[..., Any],
    *,
    owner: str,
    input_schema: SchemaSource | None = None,
    output_schema: SchemaSource | None = None,
    timeout: float | None = None,
    name: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    local: Mapping[str, Any] | None = None,
    resource_type: str = "",
    resource_timeout: float | None = None,
    provides: Provides | None = None,
    max_concurrency: int | None = None,
    rate_limit: Rate | None = None,
) -> HandlerDefinition:
    """Build the definition of a handler, or raise one `DefinitionError` listing every problem.

    Args:
        kind: The operation the handler implements.
        fn: The handler.
        owner: Where it is registered, for messages (e.g. "resource type 'example'").
        input_schema: An explicit input schema (create, update, actions).
        output_schema: An explicit output schema (actions).
        timeout: Seconds the handler may run, overriding the resource's and the app's.
        name: The action's name.
        display_name: The action's display name.
        description: The action's description.
        local: The declaring scope's local names, to resolve string annotations.
        resource_type: The resource type's name, for messages.
        resource_timeout: The resource type's timeout, used when `timeout` is None.
        provides: What the app's lifespan yields (its class and that class's parts),
            injected where a parameter asks for one of those types (None: no lifespan
            declared yet, or it says no class).
        max_concurrency: Most tasks of the action that run at once (actions only).
        rate_limit: The action's maximum start rate (actions only).
    """
    label = f"action {name!r}" if kind == "action" else kind.replace("_", " ")
    where = f"{owner}, {label} handler {_location(fn)}"
    if not callable(fn):
        raise DefinitionError(where, f"the handler must be a function, not {type(fn).__name__}")
    problems: list[str] = []
    if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
        problems.append("a handler must return its result, not yield it: use return")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        problems.append(f"timeout must be a positive number of seconds, not {timeout!r}")
    limits, limit_problems = check_limits(max_concurrency, rate_limit)
    problems.extend(limit_problems)
    if limits and kind != "action":
        problems.append(
            f"max_concurrency= and rate_limit= apply to resource types and actions, not to a "
            f"{label} handler: declare them on app.resource({resource_type!r}, ...)"
        )

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(
            where,
            f"cannot read the handler's signature ({exc}); register a function defined "
            "with def or async def",
        ) from None
    try:
        hints = _type_hints(fn, local)
    except (NameError, TypeError, ValueError, AttributeError) as exc:
        raise DefinitionError(
            where,
            f"cannot resolve the handler's annotations ({exc}); define or import every "
            "annotated type before the handler is registered",
        ) from None

    provides = provides or Provides()
    allowed = _ALLOWED[kind]
    positional: list[Injected] = []
    keyword: list[tuple[str, Injected]] = []
    input_hint: Any = None
    taken: dict[Injected, str] = {}
    skipped = False
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            problems.append(
                f"parameter {param.name!r}: *args and **kwargs cannot be injected; "
                "declare each parameter with its type"
            )
            continue
        hint = _strip_annotated(hints.get(param.name, _NO_HINT))
        choices = ", ".join(slot.value for slot in allowed)
        slot = None if hint is _NO_HINT else _classify(hint, provides)
        if isinstance(slot, str):
            problems.append(f"parameter {param.name!r}: {slot}")
            continue
        if slot is None or (slot.slot if isinstance(slot, Part) else slot) not in allowed:
            if param.default is not param.empty:
                # Not ours to fill: it keeps its default (e.g. a value bound in a loop).
                skipped = True
            elif hint is _NO_HINT:
                problems.append(
                    f"parameter {param.name!r} has no type annotation; the SDK injects by type: "
                    f"annotate it with one of: {choices}"
                )
            else:
                problems.append(
                    f"parameter {param.name!r}: a {label} handler cannot receive "
                    f"{_describe_hint(hint)}; it can take: {choices}" + _no_provider(provides)
                )
            continue
        if slot in taken:
            what = f"the part {slot.name!r}" if isinstance(slot, Part) else slot.value
            problems.append(
                f"parameters {taken[slot]!r} and {param.name!r} both ask for {what}; keep one"
            )
            continue
        taken[slot] = param.name
        if slot is Slot.INPUT:
            input_hint = hint
        if param.kind is param.KEYWORD_ONLY or (
            skipped and param.kind is param.POSITIONAL_OR_KEYWORD
        ):
            keyword.append((param.name, slot))
        elif skipped:
            problems.append(
                f"parameter {param.name!r} is positional-only and follows a parameter the SDK "
                "leaves to its default; reorder them"
            )
        else:
            positional.append(slot)

    input_spec = None
    if Slot.INPUT in allowed:
        input_spec = _input_spec(input_hint, input_schema, taken.get(Slot.INPUT), problems)
    elif input_schema is not None:
        problems.append(f"a {label} handler has no input, so input_schema= does not apply")

    output_spec = None
    return_hint = _strip_annotated(hints.get("return", _NO_HINT))
    if kind == "action":
        output_spec = _output_spec(return_hint, output_schema, problems)
    else:
        if output_schema is not None:  # pragma: no cover - decorators do not offer it
            problems.append("output_schema= applies to actions only")
        if return_hint is not _NO_HINT and not _return_ok(kind, return_hint):
            problems.append(
                f"returns {_describe_hint(return_hint)}, but a {label} handler must return "
                f"{_RETURNS[kind]}"
            )

    if problems:
        raise DefinitionError(where, problems)
    return HandlerDefinition(
        kind=kind,
        fn=fn,
        is_async=_is_async(fn),
        positional=tuple(positional),
        keyword=tuple(keyword),
        input=input_spec,
        output=output_spec,
        timeout=float(timeout) if timeout is not None else resource_timeout,
        where=where,
        name=name,
        display_name=display_name,
        description=description,
        what=f"{label} of {resource_type!r}",
        limits=limits,
    )


def _input_spec(
    hint: Any, explicit: SchemaSource | None, param: str | None, problems: list[str]
) -> InputSpec | None:
    is_raw_explicit = isinstance(explicit, JSONSchema | Mapping)
    source: SchemaSource | None
    if explicit is not None:
        if hint is not None and is_raw_explicit and not _is_raw_mapping(hint):
            problems.append(
                f"input_schema is a raw JSON Schema, so the handler receives a dict: annotate "
                f"{param!r} as dict[str, Any] (it is {_describe_hint(hint)})"
            )
            return None
        if hint is not None and not is_raw_explicit and hint is not explicit:
            problems.append(
                f"input_schema={_describe_hint(explicit)} but parameter {param!r} is "
                f"{_describe_hint(hint)}; annotate it with the same type, or drop input_schema="
            )
            return None
        source = explicit
    elif hint is not None and not _is_raw_mapping(hint):
        source = hint
    else:
        source = None  # a dict without a schema: any object
    compiled = compile_source(source, mode="validation", role="input")
    if isinstance(compiled, list):
        problems.extend(compiled)
        return None
    return InputSpec.of(compiled, passed=hint is not None)


def _output_spec(
    hint: Any, explicit: SchemaSource | None, problems: list[str]
) -> OutputSpec | None:
    source: SchemaSource | None
    if explicit is not None:
        source = explicit
    elif hint is _NO_HINT or hint is None or hint is type(None) or hint is Any:
        source = None
    elif isinstance(hint, type) and is_schema_type(hint):
        source = hint
    elif _is_raw_mapping(hint):
        source = None
    else:
        problems.append(
            f"returns {_describe_hint(hint)}; an action returns its output: a pydantic model, "
            "dataclass, TypedDict or dict (give a raw schema with output_schema=)"
        )
        return None
    compiled = compile_source(source, mode="serialization", role="output")
    if isinstance(compiled, list):
        problems.extend(compiled)
        return None
    return OutputSpec.of(compiled)


def _return_ok(kind: str, hint: Any) -> bool:
    def is_resource(h: Any) -> bool:
        return isinstance(h, type) and issubclass(h, Resource)

    if hint is Any:
        return True
    if kind in ("create", "read", "update"):
        return is_resource(hint)
    if kind == "delete":
        if hint is None or hint is type(None) or is_resource(hint):
            return True
        args = typing.get_args(hint)
        return bool(args) and all(a is type(None) or is_resource(a) for a in args)
    if kind == "list":
        if isinstance(hint, type) and issubclass(hint, Page):
            return True
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        return (
            origin in (list, collections.abc.Sequence) and len(args) == 1 and is_resource(args[0])
        )
    if kind == "health_check":
        return isinstance(hint, type) and issubclass(hint, Health)
    return True  # pragma: no cover
