"""`App`: the resource types of one app version, and its two pure entry points."""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from .._limits import NO_LIMITS, Limits, Rate, check_limits
from .._secrets import install_log_filter
from ..models._enums import LifecycleStage
from ._errors import DefinitionError
from ._lifespan import Lifespan, Provides, check_dependency, check_lifespan, provides
from ._schema import resolve_user_path

# What declaring, freezing and dispatching use is imported where it is first used:
# the wire models, schema derivation and the dispatcher load pydantic's model
# machinery, which `from tempest_sdk import App` alone should not pay for.
if TYPE_CHECKING:
    import anyio

    from ..models import AppHealthReportRequest, ConnectRequest, Link, Task, TaskReport
    from ..runner import RunKwargs
    from ._definition import AppDefinition
    from ._payloads import SchemaSource
    from ._resource import ResourceType
    from ._runtime import AppRuntime, Serving

__all__ = ["App"]

_L = TypeVar("_L", bound=Lifespan)

_APP_ID = re.compile(r"^[a-z0-9][a-z0-9-]+$")
_VERSION = re.compile(r"^v\d+$")
_TYPE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STAGES = ", ".join(stage.value for stage in LifecycleStage)


class App:
    """A Tempest private app: one version of it, with its resource types.

    Declaring is data only: nothing runs and nothing is fetched at import.
    `freeze()` turns the declarations into an immutable `AppDefinition` (whatever
    serves, invokes, dispatches to or describes the app calls it);
    `describe()` gives the connect payload, `await dispatch(task)` runs one task and
    gives its report, `run()` serves the app against Tempest.

    Args:
        app_id: The app's id in Tempest (`^[a-z0-9][a-z0-9-]+$`).
        version: The version this code implements (`^v\\d+$`, e.g. `"v1"`).

    Raises:
        DefinitionError: the id or the version does not match its pattern.
    """

    __slots__ = (
        "_app_id",
        "_lifespan",
        "_limits",
        "_provides",
        "_serving",
        "_types",
        "_version",
    )

    def __init__(self, app_id: str, version: str) -> None:
        problems = []
        if not isinstance(app_id, str) or not _APP_ID.match(app_id):
            problems.append(
                f"app id {app_id!r} must match ^[a-z0-9][a-z0-9-]+$ (lowercase letters, "
                "digits and dashes, at least two characters), as Tempest's CLI requires"
            )
        if not isinstance(version, str) or not _VERSION.match(version):
            problems.append(f"version {version!r} must match ^v\\d+$, e.g. 'v1'")
        if problems:
            raise DefinitionError(f"App({app_id!r}, {version!r})", problems)
        self._app_id = app_id
        self._version = version
        self._types: dict[str, ResourceType] = {}
        self._limits: dict[str, Limits] = {}
        self._lifespan: Lifespan | None = None
        self._provides = Provides()
        # Set by the first freeze(): the definition and the lifespan's serving state.
        self._serving: Serving | None = None
        install_log_filter()

    @property
    def app_id(self) -> str:
        """The app's id in Tempest."""
        return self._app_id

    @property
    def version(self) -> str:
        """The app version this code implements."""
        return self._version

    def freeze(self) -> AppDefinition:
        """Freeze the declarations into an immutable `AppDefinition`, and return it.

        Serving, invoking, dispatching to or describing the app freeze it; from then
        on declaring more is a `DefinitionError`. Calling it again returns the same
        definition.
        """
        return self._runtime_slot().runtime.definition

    @property
    def definition(self) -> AppDefinition:
        """The app's declarations, frozen (see `freeze()`)."""
        return self.freeze()

    def _runtime_slot(self) -> Serving:
        serving = self._serving
        if serving is None:
            from ._definition import AppDefinition
            from ._runtime import Serving

            types = MappingProxyType(
                {
                    name: resource_type._freeze(self._limits.get(name, NO_LIMITS))
                    for name, resource_type in self._types.items()
                }
            )
            definition = AppDefinition(
                self._app_id, self._version, types, self._lifespan, self._provides
            )
            serving = self._serving = Serving(definition, self)
        return serving

    @property
    def runtime(self) -> AppRuntime:
        """What dispatch runs from now: the definition, with the lifespan's state while
        the app is serving (freezes the app)."""
        return self._runtime_slot().runtime

    def _check_open(self, what: str) -> None:
        """Refuse a declaration once the app is frozen."""
        if self._serving is not None:
            raise DefinitionError(
                f"{self._app_id} {self._version}: {what}",
                [
                    "the app is frozen: it was already served, invoked, dispatched to or "
                    "described. Declare every resource type, handler and the lifespan "
                    "before that (at import, in the app's module)"
                ],
            )

    @property
    def resource_types(self) -> Mapping[str, ResourceType]:
        """The declared resource types by name, in declaration order (read-only)."""
        return MappingProxyType(self._types)

    def resource(
        self,
        type: str,
        /,
        *,
        display_name: str | None = None,
        description: str = "",
        properties: SchemaSource | None = None,
        lifecycle_stage: LifecycleStage | str = LifecycleStage.OTHER,
        links: Sequence[Link] | None = None,
        instructions: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        rate_limit: Rate | None = None,
    ) -> ResourceType:
        """Declare a resource type; register its handlers with the decorators of the result.

        Args:
            type: The type's name (`^[A-Za-z_][A-Za-z0-9_]*$`), unique in the app.
            display_name: The name Tempest shows; defaults to the type's name, capitalised.
            description: What the type is.
            properties: The schema of a resource's properties: a pydantic model, dataclass,
                TypedDict, dict or `tempest.JSONSchema`. Required before create, read,
                update, delete or list handlers. Fields must be flat (no objects).
            lifecycle_stage: code, build, test, release, deploy, operate, monitor or other.
            links: Links shown with the type (`tempest.Link.documentation(url)`, ...).
            instructions: Markdown shown with the type; a `pathlib.Path` is read from that
                file (relative to the declaring module's directory).
            timeout: Seconds each handler of the type may run; overrides `dispatch(timeout=)`.
                It counts from the handler's start, not from a wait for the limits below.
            max_concurrency: Most tasks of the type (operations, lists and actions) that
                run at once in a runner process; the others wait their turn there.
            rate_limit: The type's maximum start rate in a runner process, e.g.
                `tempest.Rate(5, per=1.0)`; tasks over it wait.

        Raises:
            DefinitionError: listing every problem with the declaration.
        """
        from ._definition import ResourceSpec
        from ._payloads import PropertiesSpec, compile_source
        from ._resource import ResourceType, check_links

        self._check_open(f"resource type {type!r}")
        where = f"app.resource({type!r})"
        problems: list[str] = []
        if not isinstance(type, str) or not _TYPE_NAME.match(type):
            problems.append(
                f"type name {type!r} must match ^[A-Za-z_][A-Za-z0-9_]*$ (letters, digits and "
                "underscores, not starting with a digit)"
            )
        elif type in self._types:
            problems.append(
                f"resource type {type!r} is already declared in this app; names are unique"
            )
        if display_name is not None and not isinstance(display_name, str):
            problems.append(f"display_name must be a string, not {builtin_type(display_name)}")
        if not isinstance(description, str):
            problems.append(f"description must be a string, not {builtin_type(description)}")
        stage = str(lifecycle_stage)
        if stage not in LifecycleStage._value2member_map_:
            problems.append(f"lifecycle_stage {lifecycle_stage!r} is not one of: {_STAGES}")
        link_tuple, link_problems = check_links(links)
        problems.extend(link_problems)
        markdown = self._instructions(instructions, problems)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            problems.append(f"timeout must be a positive number of seconds, not {timeout!r}")
        limits, limit_problems = check_limits(max_concurrency, rate_limit)
        problems.extend(limit_problems)
        properties_spec = None
        if properties is not None:
            compiled = compile_source(properties, mode="serialization", role="properties")
            if isinstance(compiled, list):
                problems.extend(compiled)
            else:
                properties_spec = PropertiesSpec(compiled.schema)
        if problems:
            raise DefinitionError(where, problems)
        spec = ResourceSpec(
            type=type,
            display_name=display_name if display_name is not None else _title(type),
            description=description,
            lifecycle_stage=stage,
            links=link_tuple,
            instructions=markdown,
            properties=properties_spec,
            timeout=float(timeout) if timeout is not None else None,
        )
        resource_type = ResourceType(spec, lambda: self._provides, self._check_open)
        self._types[type] = resource_type
        if limits:
            self._limits[type] = limits
        return resource_type

    @staticmethod
    def _instructions(value: object, problems: list[str]) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            # Frames up: _instructions <- resource <- the declaring module.
            path = resolve_user_path(value, stacklevel=3)
            try:
                return path.read_text(encoding="utf-8")
            except OSError as exc:
                problems.append(
                    f"instructions: cannot read {str(path)!r} ({exc.strerror or exc}); relative "
                    "paths are resolved against the directory of the declaring module"
                )
                return None
        problems.append(
            f"instructions must be Markdown text (str) or a pathlib.Path to a Markdown file, "
            f"not {builtin_type(value)}"
        )
        return None

    def lifespan(self, fn: _L) -> _L:
        """Declare what runs once around serving: set up shared clients, tear them down.

        Decorate an async generator function (or a generator function, or a function
        returning an async context manager) taking the app, or nothing. It runs up to
        its `yield` before the first task, and after it once serving ends. What it
        yields is `app.state` and `ctx.state` meanwhile, and handlers and health checks
        declared after the lifespan receive it in a parameter annotated with the type
        its return annotation names (`AsyncIterator[Clients]`: `clients: Clients`).
        The runner enters it before
        its first poll and leaves it after the drain; `invoke`/`ainvoke` and the
        testing fixtures enter it too. A lifespan that raises stops the runner from
        starting.

        Example:
            ```python
            @app.lifespan
            async def clients(app: tempest.App) -> AsyncIterator[Clients]:
                async with httpx.AsyncClient(base_url=TEMPS_URL) as temps:
                    yield Clients(temps=temps)
            ```

        Raises:
            DefinitionError: a lifespan is declared already, or `fn` takes more than the app.
        """
        self._check_open("lifespan")
        check_lifespan(fn, f"{self._app_id} {self._version}: lifespan")
        if self._lifespan is not None:
            raise DefinitionError(
                f"{self._app_id} {self._version}: lifespan",
                [
                    f"{getattr(self._lifespan, '__qualname__', self._lifespan)} is the "
                    "lifespan already; an app has one (enter several context managers "
                    "in it with contextlib.AsyncExitStack)"
                ],
            )
        self._lifespan = fn
        self._provides = provides(fn)
        return fn

    @property
    def state(self) -> Any:
        """What the lifespan yielded, while the app is serving (None without a lifespan).

        Raises:
            LookupError: the app is not serving now.
        """
        return self.runtime.state

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Any]:
        """Enter the app's lifespan for as long as the block runs; yields `app.state`.

        Nested or overlapping blocks (a runner and an `ainvoke` in one process) share
        one entry: the lifespan runs once, and ends with the last block. Serving
        freezes the app.
        """
        async with self._runtime_slot().serve() as runtime:
            yield runtime.state

    @contextlib.contextmanager
    def overriding_state(self, state: Any) -> Iterator[None]:
        """Serve with `state` instead of running the lifespan, inside the block (tests).

        Handlers receive `state` where they take what the lifespan yields, through
        `invoke`, the runner and the testing fixtures alike, without touching the app
        module. Enter it before serving starts.

        Example:
            ```python
            with app.overriding_state(Clients(temps=fake_temps)):
                report = tempest.testing.invoke(app, "project", "create", input=...)
            ```
        """
        with self._runtime_slot().overriding(state, f"{self._app_id} {self._version}"):
            yield

    @contextlib.contextmanager
    def overriding(self, kind: type[object], value: object) -> Iterator[None]:
        """Serve with one dependency replaced by `value`, inside the block (tests).

        `kind` is a type handlers take from the lifespan: one of the parts of what it
        yields (a field of its dataclass or model, e.g. `FlagsApi`), or the whole of
        it. A part is replaced in a copy of the state, after the lifespan has run; the
        whole state is replaced without running the lifespan (as `overriding_state`).
        `value` must be a `kind` (for a `typing.Protocol`, have its members), checked
        when the block is entered: type checkers cannot tie the two arguments
        together (they would join both types to `object`), and taking `type[object]`
        lets a Protocol through mypy without `# type: ignore[type-abstract]`. Works
        for `invoke`, the testing fixtures and the runner alike; enter it before
        serving starts.

        Example:
            ```python
            with app.overriding(FlagsApi, FakeFlagsApi()):
                report = tempest.testing.invoke(app, "flag", "create", input=...)
            ```

        Raises:
            TypeError: `value` is not a `kind`.
            LookupError: the lifespan provides no `kind`, or several parts of it.
        """
        slot = self._runtime_slot()
        where = f"{self._app_id} {self._version}"
        check_dependency(kind, value)
        provides = slot.runtime.definition.provides
        if provides.whole is not None and kind is provides.whole:
            with slot.overriding(value, where):
                yield
            return
        names = provides.parts_of(kind)
        if len(names) != 1:
            parts = ", ".join(
                f"{name}: {getattr(part, '__qualname__', part)}"
                for name, part in provides.parts.items()
            )
            whole = getattr(provides.whole, "__qualname__", None)
            found = "several" if names else "no"
            raise LookupError(
                f"app {where}: the lifespan provides {found} {kind.__name__}"
                + (f" ({', '.join(names)})" if names else "")
                + f"; it yields {whole or 'nothing typed'}"
                + (f", whose parts are {parts}" if parts else "")
            )
        with slot.overriding_part(names[0], value, where):
            yield

    def limits_for(self, resource_type: str, action: str | None = None) -> Limits:
        """The limits the runner applies to an action's tasks (with `action`) or to all
        of a resource type's tasks (without); empty limits when none are set."""
        return self.freeze().limits_for(resource_type, action)

    def describe(self) -> ConnectRequest:
        """The connect request: every resource type with its flags, schemas and actions.

        `app.describe().to_json()` is the payload as bytes, exactly as sent to
        `apps.version.connect`; `app.describe().to_wire()` the same as a dict (what
        `json.dumps` takes).
        """
        return self.freeze().describe()

    async def dispatch(
        self,
        task: Task,
        *,
        timeout: float | None = None,
        thread_limiter: anyio.CapacityLimiter | None = None,
    ) -> TaskReport:
        """Run one task and return its report. Never raises for anything a task or handler does.

        Unknown types, operations and actions, a missing external id, invalid input,
        a handler's exception, invalid returned data and timeouts all become error
        reports whose message says what happened; tracebacks go to the log
        (`tempest_sdk.app`), and values of sensitive environment variables are masked
        in every message.

        Plain (`def`) handlers run in a worker thread. On timeout an `async` handler is
        cancelled; a thread cannot be stopped, so a plain handler's thread is abandoned
        (it runs on, its result discarded) and the task is reported as timed out. The
        abandoned thread keeps its `thread_limiter` token until it returns, so the
        limiter bounds the threads that exist; when all are stuck, the next plain
        handlers wait for one (logged as an ERROR naming them).

        Args:
            task: The task, as `tempest_sdk.models.parse_task` reads it.
            timeout: Seconds a handler may run, unless its resource type or its decorator
                sets its own `timeout=`. None: no limit.
            thread_limiter: Caps how many plain handlers run at once, abandoned ones
                included (None: anyio's default limiter of 40 threads, which
                abandoned threads do not hold, since other code shares it).
        """
        serving = self._serving or self._runtime_slot()
        run = _dispatcher()
        return await run(serving.runtime, task, timeout=timeout, thread_limiter=thread_limiter)

    async def check_health(self, *, timeout: float = 30.0) -> AppHealthReportRequest | None:
        """Run every health check of the app concurrently and gather their results.

        A check that raises, times out or returns something other than a `Health` is
        reported `disrupted` with a message saying so.

        Args:
            timeout: Seconds each check may run, unless it sets its own `timeout=`.

        Enters the app's lifespan around the checks when it is not serving yet (as
        `ainvoke` does), so a check can use what the lifespan yields.

        Returns:
            The health report, or None when no resource type has a health check.
        """
        from ._health import check_health

        async with self._runtime_slot().serve() as runtime:
            return await check_health(runtime, timeout=timeout)

    def run(self, **options: Unpack[RunKwargs]) -> None:
        """Serve the app against Tempest until SIGINT or SIGTERM (blocking).

        Reads `TEMPEST_TOKEN` (or `TEMPEST_TOKEN_FILE`) and `TEMPEST_API_ENDPOINT`.
        Takes the keywords of `tempest_sdk.runner.run` (`RunKwargs`: a client or what
        builds one, and the runner's options; a misspelled one is a type error, and a
        `RunnerConfigError` at run time).
        """
        # Imported here: the runner (and httpx) load only when an app is served.
        from ..runner import run as serve

        serve(self, **options)

    def __repr__(self) -> str:
        return (
            f"<App {self._app_id} {self._version}: {', '.join(self._types) or 'no resource types'}>"
        )


def builtin_type(value: object) -> str:
    """The name of a value's type, for messages."""
    return type(value).__name__


def _title(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() or name


@functools.cache
def _dispatcher() -> Callable[..., Coroutine[Any, Any, TaskReport]]:
    """The engine's `dispatch`, imported at the first task rather than with `App` (an
    app module's import stays light) or on every task."""
    from ._dispatch import dispatch

    return dispatch
