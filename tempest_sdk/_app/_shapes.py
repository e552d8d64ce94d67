"""The shapes of handlers as type checkers see them: what each decorator accepts.

Each operation's decorator takes a `TypeVar` bound to the callables returning what
that operation returns, sync or async, and gives the function back with its own type.
So mypy and pyright reject a create returning `int` or a health check returning
`None` in the editor, as `analyze` does at import.

Only the return type is checked statically. The parameters are injected by type, in
any order, any subset of them, with the lifespan's state of any type: no
`Callable[[...], R]` says that without refusing valid handlers, so the bounds say
`Callable[..., R]` and `analyze` checks the parameters at registration. A handler
without a return annotation is accepted too (mypy reads it as `Any`; so does
`analyze`), and neither checker can tell a plain `def` returning an awaitable from
an `async def`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeAlias, TypeVar

from pydantic import BaseModel

from ..models import Resource
from ._results import Health, Page

__all__ = [
    "ActionHandler",
    "ActionMustReturnItsOutput",
    "ActionOutput",
    "DeleteHandler",
    "DeleteMustReturnResourceOrNone",
    "HealthCheckHandler",
    "HealthCheckMustReturnHealth",
    "ListHandler",
    "ListMustReturnPage",
    "ResourceHandler",
    "HandlerMustReturnResource",
]


class _Dataclass(Protocol):
    """Any dataclass instance (typeshed's `_typeshed.DataclassInstance`)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


#: What an action may return: a pydantic model, a dataclass, a TypedDict or a dict
#: (a TypedDict is a `Mapping[str, object]` to both checkers), or None (no output).
ActionOutput: TypeAlias = BaseModel | _Dataclass | Mapping[str, object] | None

#: Create, read and update: returns the `Resource`.
ResourceHandler: TypeAlias = Callable[..., Resource | Awaitable[Resource]]
#: Delete: returns None (the task's resource is reported) or a `Resource`.
DeleteHandler: TypeAlias = Callable[..., Resource | Awaitable[Resource | None] | None]
#: List: returns a `Page`, or a list of resources.
ListHandler: TypeAlias = Callable[
    ..., Page | Sequence[Resource] | Awaitable[Page | Sequence[Resource]]
]
#: Health check: returns a `Health`.
HealthCheckHandler: TypeAlias = Callable[..., Health | Awaitable[Health]]
#: Action: returns its output.
ActionHandler: TypeAlias = Callable[..., ActionOutput | Awaitable[ActionOutput]]

# Named as the rule they enforce: a type checker's error quotes the name ("Value of
# type variable "HandlerMustReturnResource" of "create" cannot be ...").
HandlerMustReturnResource = TypeVar("HandlerMustReturnResource", bound=ResourceHandler)
DeleteMustReturnResourceOrNone = TypeVar("DeleteMustReturnResourceOrNone", bound=DeleteHandler)
ListMustReturnPage = TypeVar("ListMustReturnPage", bound=ListHandler)
HealthCheckMustReturnHealth = TypeVar("HealthCheckMustReturnHealth", bound=HealthCheckHandler)
ActionMustReturnItsOutput = TypeVar("ActionMustReturnItsOutput", bound=ActionHandler)
