"""What a handler learns about the task it runs: `Context` and its `Environment`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from .._logfields import task_fields
from .._secrets import current_task_secrets, register_process_secrets
from .._stopping import Stopping, current
from ..models import EnvironmentVariable, EnvironmentVariableType, TaskMetadata, TaskSubject

__all__ = ["Context", "Environment", "StateSource"]

_LOGGER = logging.getLogger("tempest_sdk.app")


class Environment(Mapping[str, str]):
    """The project's environment variables handed to a task.

    As a mapping it holds the plain variables (type `variable`) only, so printing,
    logging or `dict()`-ing it never exposes a secret. Sensitive values (secrets,
    certificates, keys) are read on purpose with `secret(name)`. `types` tells the
    type of every variable, plain or sensitive.

    Example:
        ```python
        region = ctx.env.get("REGION", "eu-west-1")
        token = ctx.env.secret("API_TOKEN")
        ```
    """

    __slots__ = ("_sensitive", "_types", "_values")

    def __init__(self, variables: Iterable[EnvironmentVariable] = ()) -> None:
        self._values: dict[str, str] = {}
        self._sensitive: dict[str, EnvironmentVariable] = {}
        self._types: dict[str, EnvironmentVariableType] = {}
        for variable in variables:
            # A later duplicate wins, in both views.
            self._values.pop(variable.name, None)
            self._sensitive.pop(variable.name, None)
            self._types[variable.name] = variable.type
            if variable.is_sensitive:
                self._sensitive[variable.name] = variable
            else:
                self._values[variable.name] = variable.reveal()

    def __getitem__(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            if name in self._sensitive:
                kind = self._types[name].value
                raise KeyError(
                    f"{name!r} is a {kind}, not a plain variable: read it on purpose "
                    f"with ctx.env.secret({name!r})"
                ) from None
            raise

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def secret(self, name: str) -> str:
        """Return the value of a sensitive variable (or of a plain one) in clear.

        Never log or report what this returns: the SDK scrubs these values from the
        error reports it sends, but not from what your code does with them.

        Raises:
            KeyError: the task has no variable of that name (the message names the
                ones it has).
        """
        variable = self._sensitive.get(name)
        if variable is not None:
            return variable.reveal()
        if name in self._values:
            return self._values[name]
        raise KeyError(self._missing(name))

    def _missing(self, name: str) -> str:
        known = ", ".join(sorted(self._types)) or "none"
        return (
            f"the task has no environment variable {name!r} (its variables: {known}); set "
            "it in the project's environment in Tempest. List tasks and health checks "
            "carry no variables: read what they need from the app's settings"
        )

    @property
    def types(self) -> Mapping[str, EnvironmentVariableType]:
        """The type of every variable of the task, plain and sensitive."""
        return dict(self._types)

    def __repr__(self) -> str:
        return f"Environment(variables={list(self._values)!r}, sensitive={list(self._sensitive)!r})"


class StateSource(Protocol):
    """Where a context finds what the lifespan yielded: an `App` or its runtime."""

    @property
    def state(self) -> Any:
        """What the lifespan yielded; LookupError when not serving."""
        ...


class Context:
    """What a handler knows about the task it runs.

    Attributes:
        task_id: The task's id (`""` in a health check, which runs outside any task).
        app_id: The app's id.
        version: The app's version.
        resource_type: The resource type the task is for.
        operation: `create`, `read`, `update`, `delete`, `list`, `action` or `health_check`.
        action: The action's name in an action task, else `None`.

    `state` is what the app's lifespan yielded (its shared clients); the constructor's
    `app` (an `App`, or anything with a `state`) gives it one when a context is built
    by hand, in a test.
    """

    __slots__ = (
        "_app",
        "_env",
        "_env_vars",
        "_logger",
        "_metadata",
        "action",
        "app_id",
        "operation",
        "resource_type",
        "task_id",
        "version",
    )

    def __init__(
        self,
        *,
        task_id: str,
        app_id: str,
        version: str,
        resource_type: str,
        operation: str,
        action: str | None = None,
        metadata: TaskMetadata | None = None,
        environment_variables: Iterable[EnvironmentVariable] | None = None,
        app: StateSource | None = None,
    ) -> None:
        self._app = app
        self.task_id = task_id
        self.app_id = app_id
        self.version = version
        self.resource_type = resource_type
        self.operation = operation
        self.action = action
        self._metadata = metadata
        # The environment and the logger are built on first use: most handlers need
        # neither, and dispatch stays cheap.
        self._env_vars = environment_variables
        self._env: Environment | None = None
        self._logger: logging.LoggerAdapter[logging.Logger] | None = None

    def mask(self, value: str) -> str:
        """Treat `value` as a secret from now on, and return it.

        For a credential the handler obtains itself (a token it fetched, a password
        derived from others): the SDK masks it in this task's report and log records,
        as it masks the task's secret variables. Outside a task (a health check) it is
        masked for the rest of the process.
        """
        secrets = current_task_secrets()
        if secrets is not None:
            secrets.add(value)
        else:
            register_process_secrets([value])
        return value

    @property
    def state(self) -> Any:
        """What the app's lifespan yielded (its shared clients and settings).

        Raises:
            LookupError: the app is not serving (see `App.lifespan`), or the context
                was built by hand without an app.
        """
        if self._app is None:
            raise LookupError("this context belongs to no app, so it has no lifespan state")
        return self._app.state

    @property
    def stopping(self) -> Stopping:
        """Whether the runner serving this task has begun to stop (see `Stopping`).

        A long handler checks it (`if ctx.stopping:`) or awaits it
        (`await ctx.stopping.wait()`) to checkpoint and return within the runner's
        grace period. Outside a runner it never becomes set.
        """
        return current()

    @property
    def metadata(self) -> TaskMetadata:
        """The project the task belongs to, its owners and the task's author.

        Raises:
            LookupError: in a health check, which runs outside any task.
        """
        if self._metadata is None:
            raise LookupError(
                "a health check runs outside any task, so its context has no task metadata"
            )
        return self._metadata

    @property
    def env(self) -> Environment:
        """The project's environment variables (plain ones as a mapping; see `Environment`)."""
        if self._env is None:
            self._env = Environment(self._env_vars or ())
        return self._env

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger (`tempest_sdk.app`) whose records carry the task id, type and operation.

        The ids are in each record's `extra` fields `app_id`, `app_version`,
        `task_id`, `task_kind`, `resource_type`, and `operation` or (in an action
        task) `action`: the fields of the runner's own records.
        """
        if self._logger is None:
            self._logger = logging.LoggerAdapter(_LOGGER, self._log_extra())
        return self._logger

    def _log_extra(self) -> dict[str, Any]:
        if self.operation == "action":
            subject = TaskSubject("action", self.resource_type, self.action or "")
        elif self.operation == "list":
            subject = TaskSubject("list", self.resource_type, "list")
        else:
            subject = TaskSubject("operation", self.resource_type, self.operation)
        return task_fields(self.app_id, self.version, self.task_id, subject)

    def __repr__(self) -> str:
        action = f", action={self.action!r}" if self.action else ""
        return (
            f"Context(task_id={self.task_id!r}, resource_type={self.resource_type!r}, "
            f"operation={self.operation!r}{action})"
        )
