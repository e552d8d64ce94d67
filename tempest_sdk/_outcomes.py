"""What a failed call of a task source means to the runner.

A task source (the API client, or any object a runner is given instead) raises these
so the runner knows what to do next without knowing the source's own exceptions:

```
TaskSourceError
├── RetryLaterError        transient: call again after a pause (.retry_after when known)
│   └── AccessRefusedError the credentials were refused: retried, since a rotated token
│                          fixes it, but logged as an error
├── RejectedError          the same request would be refused again: never retried
└── GoneError              what the call is about no longer exists (a report's task)
```

Any other exception from a source counts as `RetryLaterError` without a delay. The
API client's errors derive from these (`NotFoundError` is a `GoneError`, and so on).
"""

from __future__ import annotations

from typing import ClassVar

from ._errors import TempestError

__all__ = [
    "AccessRefusedError",
    "GoneError",
    "RejectedError",
    "RetryLaterError",
    "TaskSourceError",
]


class TaskSourceError(TempestError):
    """A call of a task source failed; the subclass says what the runner does next.

    Attributes:
        fix: how an operator fixes the cause, when the source knows it (the runner
            quotes it when it cannot start).
        blocks_start: whether this failure on the first `next` call stops a runner
            from starting. True by default; False for failures about one answer
            rather than the source, such as an answer too large to read.
    """

    fix: ClassVar[str | None] = None
    blocks_start: ClassVar[bool] = True


class RetryLaterError(TaskSourceError):
    """The call may succeed later: the runner calls again after a pause.

    Attributes:
        retry_after: the seconds the source asked to wait, or None.
    """

    retry_after: float | None = None


class AccessRefusedError(RetryLaterError):
    """The source refused the credentials. Retried, since a rotated token fixes it,
    but each failure is logged as an error."""


class RejectedError(TaskSourceError):
    """The source refused the request itself: sending it again would fail the same way."""

    @property
    def http_status(self) -> int | None:
        """The HTTP status of the refusal, when there was one."""
        return None

    @property
    def reason(self) -> str:
        """Why, in the source's words: the runner quotes it in the error report it
        sends in place of a refused result."""
        return str(self)


class GoneError(TaskSourceError):
    """What the call is about no longer exists, e.g. a report's task whose lease expired."""
