"""What serves: an app's frozen definition and, while it serves, its lifespan's state.

`App` declares, `AppDefinition` is what it froze into, and `AppRuntime` is what
`dispatch`, the health checks and `Context` run from. `Serving` enters the lifespan
once for any number of overlapping serving blocks (a runner and an `ainvoke` in one
process) and hands out the runtime of the moment.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from .._secrets import register_process_secrets, secrets_in, unregister_process_secrets
from ._definition import AppDefinition
from ._lifespan import as_context_manager

__all__ = ["AppRuntime", "Serving"]

_NOT_SERVING: Any = object()


class AppRuntime:
    """An app's definition with what its lifespan yielded (if it is serving).

    Attributes:
        definition: the app's frozen declarations.
    """

    __slots__ = ("_state", "definition")

    def __init__(self, definition: AppDefinition, state: Any = _NOT_SERVING) -> None:
        self.definition = definition
        self._state = state

    @property
    def app_id(self) -> str:
        """The app's id."""
        return self.definition.app_id

    @property
    def version(self) -> str:
        """The app's version."""
        return self.definition.version

    @property
    def serving(self) -> bool:
        """Whether the lifespan has run (or been overridden) for this runtime."""
        return self._state is not _NOT_SERVING

    @property
    def state(self) -> Any:
        """What the lifespan yielded (None without a lifespan).

        Raises:
            LookupError: the app is not serving now.
        """
        if self._state is _NOT_SERVING:
            definition = self.definition
            raise LookupError(
                f"app {definition.app_id} {definition.version} is not serving, so its "
                "lifespan has not run: the runner, invoke()/ainvoke() and the testing "
                "fixtures enter it, or enter it yourself with `async with app.serving():`"
            )
        return self._state


class Serving:
    """The serving state of one app: the lifespan entered once for overlapping blocks.

    Args:
        definition: the app's frozen declarations.
        owner: what the lifespan function is given (the `App`).
    """

    __slots__ = ("_count", "_idle", "_override", "_owner", "_parts", "_runtime")

    def __init__(self, definition: AppDefinition, owner: object) -> None:
        self._owner = owner
        self._idle = AppRuntime(definition)
        self._runtime = self._idle
        self._override: Any = _NOT_SERVING
        self._parts: dict[str, Any] = {}
        self._count = 0

    @property
    def runtime(self) -> AppRuntime:
        """The runtime of this moment: with the lifespan's state while serving."""
        return self._runtime

    @property
    def active(self) -> bool:
        """Whether a serving block is open."""
        return self._count > 0

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[AppRuntime]:
        """Enter the lifespan (or join the entry in force) for as long as the block runs."""
        if self._count:
            self._count += 1
            try:
                yield self._runtime
            finally:
                self._count -= 1
            return
        definition = self._idle.definition
        manager: contextlib.AbstractAsyncContextManager[Any]
        if self._override is not _NOT_SERVING:
            manager = contextlib.nullcontext(self._override)
        elif definition.lifespan is None:
            manager = contextlib.nullcontext()
        else:
            manager = as_context_manager(definition.lifespan, self._owner)
        self._count = 1
        try:
            async with manager as state:
                if self._parts:
                    state = _with_parts(state, self._parts)
                # Its settings' SecretStr values are secrets wherever the SDK writes.
                secrets = secrets_in(state)
                register_process_secrets(secrets)
                self._runtime = AppRuntime(definition, state)
                try:
                    yield self._runtime
                finally:
                    self._runtime = self._idle
                    unregister_process_secrets(secrets)
        finally:
            self._count = 0

    @contextlib.contextmanager
    def overriding(self, state: Any, where: str) -> Iterator[None]:
        """Serve with `state` instead of running the lifespan, inside the block."""
        self._refuse_while_serving(where)
        previous, self._override = self._override, state
        try:
            yield
        finally:
            self._override = previous

    @contextlib.contextmanager
    def overriding_part(self, name: str, value: Any, where: str) -> Iterator[None]:
        """Serve with part `name` of the lifespan's state replaced by `value`."""
        self._refuse_while_serving(where)
        missing = object()
        previous = self._parts.get(name, missing)
        self._parts[name] = value
        try:
            yield
        finally:
            if previous is missing:
                del self._parts[name]
            else:
                self._parts[name] = previous

    def _refuse_while_serving(self, where: str) -> None:
        if self._count:
            raise RuntimeError(
                f"app {where} is serving already: override its state before the runner "
                "or the serving block starts"
            )


def _with_parts(state: Any, parts: Mapping[str, Any]) -> Any:
    """A copy of the lifespan's `state` with some of its fields replaced."""
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return dataclasses.replace(state, **parts)
    model_copy = getattr(state, "model_copy", None)  # a pydantic model
    if callable(model_copy):
        return model_copy(update=dict(parts))
    replaced = copy.copy(state)
    for name, value in parts.items():
        setattr(replaced, name, value)
    return replaced
