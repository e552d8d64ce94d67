"""An app's lifespan: what runs once around serving, and what it hands to handlers."""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import inspect
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._errors import DefinitionError

__all__ = [
    "Lifespan",
    "Provides",
    "as_context_manager",
    "check_dependency",
    "check_lifespan",
    "provides",
    "yielded_type",
]

Lifespan = Callable[..., Any]
"""An async generator function, a generator function, or a function returning an
(async) context manager; it takes the app as its only argument, or none."""


def as_context_manager(fn: Lifespan, app: object) -> contextlib.AbstractAsyncContextManager[Any]:
    """Enter `fn` (given `app` if it takes an argument) as an async context manager."""
    takes_app = _takes_app(fn)
    if inspect.isasyncgenfunction(fn):
        return contextlib.asynccontextmanager(fn)(*takes_app(app))
    if inspect.isgeneratorfunction(fn):
        return _from_sync(contextlib.contextmanager(fn)(*takes_app(app)))
    made = fn(*takes_app(app))
    if hasattr(made, "__aenter__") and hasattr(made, "__aexit__"):
        return made  # type: ignore[no-any-return]
    if hasattr(made, "__enter__") and hasattr(made, "__exit__"):
        return _from_sync(made)
    raise TypeError(
        f"the lifespan {fn.__qualname__} returned {type(made).__name__}, not a context "
        "manager: write it as an async generator that yields once"
    )


def check_lifespan(fn: object, where: str) -> None:
    """Refuse what cannot be a lifespan, at declaration (`where` names it in messages).

    Raises:
        DefinitionError: `fn` is not callable, or takes more than the app.
    """
    if not callable(fn):
        raise DefinitionError(where, [f"expected a function, got {type(fn).__name__}"])
    try:
        required = [
            parameter
            for parameter in inspect.signature(fn).parameters.values()
            if parameter.default is inspect.Parameter.empty
            and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return  # a builtin or a C callable: trust it
    if len(required) > 1:
        names = ", ".join(parameter.name for parameter in required)
        raise DefinitionError(
            where,
            [
                f"{getattr(fn, '__qualname__', fn)} takes ({names}); a lifespan takes the "
                "app as its only argument, or none"
            ],
        )


_YIELDING = (
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
    collections.abc.Iterator,
    collections.abc.Generator,
    contextlib.AbstractAsyncContextManager,
    contextlib.AbstractContextManager,
)


def yielded_type(fn: Lifespan) -> type | None:
    """The class a lifespan yields, from its return annotation (`AsyncIterator[Clients]`,
    a context manager of it, or the class itself); None when it says no class."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # an unresolvable annotation: nothing to inject by
        return None
    if typing.get_origin(hint) in _YIELDING:
        args = typing.get_args(hint)
        hint = args[0] if args else None
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    # Builtins (dict, str, ...) are left out: a `dict` input must stay an input.
    if isinstance(hint, type) and hint.__module__ != "builtins":
        return hint
    return None


def _takes_app(fn: Lifespan) -> Callable[[object], tuple[object, ...]]:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return lambda app: (app,)
    return (lambda app: (app,)) if parameters else (lambda app: ())


@contextlib.asynccontextmanager
async def _from_sync(manager: contextlib.AbstractContextManager[Any]) -> AsyncIterator[Any]:
    # Entered in the event loop itself: a sync lifespan is for quick set-up (reading
    # settings, building a client object), not for blocking I/O.
    with manager as state:
        yield state


@dataclass(frozen=True, slots=True)
class Provides:
    """What handlers may take from the lifespan's state, by type.

    Attributes:
        whole: the class the lifespan yields (None: it says no class).
        parts: its fields (a dataclass's, a pydantic model's, or the class's annotated
            attributes) whose type is a class, by name: each may be taken on its own.
    """

    whole: type | None = None
    parts: Mapping[str, type] = field(default_factory=lambda: MappingProxyType({}))

    def parts_of(self, hint: type) -> list[str]:
        """The names of the parts a parameter annotated `hint` may receive."""
        found = []
        for name, part in self.parts.items():
            if part is hint:  # a Protocol refuses subclass checks, but is itself
                found.append(name)
                continue
            try:
                if issubclass(part, hint):
                    found.append(name)
            except TypeError:  # a TypedDict, or a class that refuses subclass checks
                continue
        return found


def provides(fn: Lifespan) -> Provides:
    """What a lifespan provides: the class it yields and its parts."""
    whole = yielded_type(fn)
    if whole is None:
        return Provides()
    return Provides(whole, MappingProxyType(_parts(whole)))


def _parts(cls: type) -> dict[str, type]:
    """The fields of `cls` whose type is a class other than a builtin, by name."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an unresolvable annotation: the whole state is still injectable
        return {}
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
    else:
        fields = getattr(cls, "model_fields", None)  # a pydantic model
        names = list(fields) if isinstance(fields, Mapping) else list(hints)
    parts = {}
    for name in names:
        hint = hints.get(name)
        while typing.get_origin(hint) is typing.Annotated:
            hint = typing.get_args(hint)[0]
        # Builtins (str, int, dict, ...) are left out: they mean a cursor or an input.
        if isinstance(hint, type) and hint.__module__ != "builtins" and not name.startswith("_"):
            parts[name] = hint
    return parts


def check_dependency(kind: type, value: object) -> None:
    """Refuse a replacement that is not a `kind` (for a Protocol: lacks its members).

    Raises:
        TypeError: saying what is missing.
    """
    if getattr(kind, "_is_protocol", False) and not getattr(kind, "_is_runtime_protocol", False):
        members = {
            name
            for base in kind.__mro__[:-1]
            if getattr(base, "_is_protocol", False)
            for name in (*vars(base), *getattr(base, "__annotations__", {}))
            if not name.startswith("_")
        }
        missing = sorted(name for name in members if not hasattr(value, name))
        if missing:
            raise TypeError(
                f"{type(value).__qualname__} is no {kind.__qualname__}: it lacks "
                + ", ".join(missing)
            )
        return
    if not isinstance(value, kind):
        raise TypeError(
            f"a replacement for {kind.__qualname__} must be one (a subclass, or an object "
            f"with its members for a typing.Protocol), not {type(value).__qualname__}"
        )
