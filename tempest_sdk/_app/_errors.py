"""The exceptions of the app model: definition mistakes, and outcomes a handler raises.

```
TempestError
├── DefinitionError           (an app, resource type or handler declared wrongly; import time)
└── TaskError                 (raised by a handler: the task failed, say why in the report)
    ├── ResourceNotFoundError (the resource does not exist in the external system)
    └── InvalidInputError     (the input is valid per the schema but unusable)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from .._errors import TempestError

__all__ = ["DefinitionError", "InvalidInputError", "ResourceNotFoundError", "TaskError"]


class DefinitionError(TempestError):
    """An app, resource type or handler is declared in a way Tempest cannot accept.

    Raised when the module that declares the app is imported, never while serving.
    The message says what is wrong, where (resource type, handler, field) and how to
    fix it; `problems` lists each problem, `where` names the place.
    """

    def __init__(self, where: str, problems: str | Sequence[str]) -> None:
        self.where = where
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        if len(self.problems) == 1:
            message = f"{where}: {self.problems[0]}"
        else:
            message = f"{where}: {len(self.problems)} problems:" + "".join(
                f"\n  - {problem}" for problem in self.problems
            )
        super().__init__(message)


class TaskError(TempestError):
    """Raise from a handler to fail the task with a message meant for Tempest's users.

    Any exception a handler raises fails the task; this family reads better in the
    report (no exception type name is added to the message).
    """

    #: Words put before the message in the report; empty for a plain `TaskError`.
    label: ClassVar[str] = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def describe(self, subject: str) -> str:
        """The text of the report, given what the task was about (e.g. `example 'abc'`)."""
        if self.label and self.message:
            return f"{self.label}: {self.message}"
        if self.label:
            return f"{self.label}: {subject}"
        return self.message or f"{type(self).__name__} (no message)"


class ResourceNotFoundError(TaskError):
    """The resource does not exist (any more) in the external system.

    Example:
        `raise tempest.ResourceNotFoundError(f"no dashboard with id {id!r}")`
    """

    label = "resource not found"


class InvalidInputError(TaskError):
    """The input passed its schema but the external system cannot use it.

    Example:
        `raise tempest.InvalidInputError("name 'x' is already taken")`
    """

    label = "invalid input"


class ResourceConflictError(TaskError):
    """The external system refused the change because of its current state: the
    resource exists already, or changed in the meantime (an HTTP 409).

    Example:
        `raise tempest.ResourceConflictError(f"a project named {name!r} exists")`
    """

    label = "conflict"
