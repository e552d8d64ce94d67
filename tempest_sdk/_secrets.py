"""One rule for every secret: which values are secret, and where they are masked.

Secret values, from every source:
- the task's Tempest variables of a sensitive type (secret, certificate, private and
  public keys), and each long line of them (a key may leak one line at a time);
- `SecretStr` and `SecretBytes` values in the task's validated input;
- `SecretStr` and `SecretBytes` values in what the app's lifespan yields (its
  settings), for as long as the app serves;
- values a handler registers with `ctx.mask(value)`.

They are masked, by `dispatch` and by a filter on the SDK's loggers, in: report
messages, action outputs, the SDK's log records and `ctx.logger`'s (message,
arguments, exception text and traceback). Inside a task the task's own values
apply; everywhere, the serving apps' values.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

from .models import EnvironmentVariable

__all__ = [
    "MASK",
    "TaskSecrets",
    "current_task_secrets",
    "install_log_filter",
    "register_process_secrets",
    "scrub",
    "scrub_data",
    "secrets_in",
    "sensitive_values",
    "unregister_process_secrets",
]

MASK = "**********"
_MIN_LINE = 16
# Walks of inputs and lifespan states stop here: deep enough for settings and
# nested inputs, bounded against cycles and huge structures.
_MAX_DEPTH = 8

_task: contextvars.ContextVar[TaskSecrets | None] = contextvars.ContextVar(
    "tempest_sdk_task_secrets", default=None
)
_process: Counter[str] = Counter()
_process_lock = threading.Lock()
_process_values: tuple[str, ...] = ()


def sensitive_values(variables: Iterable[EnvironmentVariable] | None) -> tuple[str, ...]:
    """The non-empty sensitive values among `variables`, longest first.

    Longest first, so that a secret that contains another is masked whole.
    """
    if not variables:
        return ()
    values: set[str] = set()
    for variable in variables:
        if variable.is_sensitive:
            values.update(_with_lines(variable.reveal()))
    values.discard("")
    return tuple(sorted(values, key=len, reverse=True))


def _with_lines(value: str) -> Iterator[str]:
    yield value
    # A key or certificate may leak one line at a time (in a parser's error).
    for line in value.splitlines():
        if len(line.strip()) >= _MIN_LINE:
            yield line.strip()


def secrets_in(value: object) -> set[str]:
    """The values of every `SecretStr` and `SecretBytes` inside `value` (models,
    dataclasses, mappings and sequences, a few levels deep)."""
    found: set[str] = set()
    _collect(value, found, 0, set())
    found.discard("")
    return found


def _collect(value: object, found: set[str], depth: int, seen: set[int]) -> None:
    if isinstance(value, SecretStr):
        found.update(_with_lines(value.get_secret_value()))
        return
    if isinstance(value, SecretBytes):
        found.update(_with_lines(value.get_secret_value().decode("utf-8", "replace")))
        return
    if depth >= _MAX_DEPTH or isinstance(value, str | bytes | int | float | bool | type(None)):
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    children: Iterable[object]
    if isinstance(value, BaseModel):
        children = (getattr(value, name, None) for name in type(value).model_fields)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = (getattr(value, field.name, None) for field in dataclasses.fields(value))
    elif isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        children = value
    elif depth == 0 and hasattr(value, "__dict__"):
        # A plain object holding the state (clients, settings): its attributes only,
        # not the insides of the clients it holds.
        children = vars(value).values()
    else:
        return
    for child in children:
        _collect(child, found, depth + 1, seen)


def register_process_secrets(values: Iterable[str]) -> None:
    """Mask `values` everywhere until `unregister_process_secrets` (a serving app's)."""
    global _process_values
    with _process_lock:
        _process.update(value for value in values if value)
        _process_values = _longest_first(_process)


def unregister_process_secrets(values: Iterable[str]) -> None:
    """Undo one `register_process_secrets` of the same values."""
    global _process_values
    with _process_lock:
        _process.subtract(value for value in values if value)
        for value in [value for value, count in _process.items() if count <= 0]:
            del _process[value]
        _process_values = _longest_first(_process)


def _longest_first(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(values, key=len, reverse=True))


class TaskSecrets:
    """The secret values of one task, gathered when first needed."""

    __slots__ = ("_extra", "_inputs", "_request", "_values")

    def __init__(self, request: Any) -> None:
        self._request = request
        self._inputs: list[object] = []
        self._extra: set[str] = set()
        self._values: tuple[str, ...] | None = None

    def add_input(self, value: object) -> None:
        """The task's validated input: its secret fields are secrets."""
        self._inputs.append(value)
        self._values = None

    def add(self, value: str) -> None:
        """A value the handler registered (`ctx.mask`)."""
        if value:
            self._extra.update(_with_lines(value))
            self._values = None

    def values(self) -> tuple[str, ...]:
        """Every secret of the task and of the serving apps, longest first."""
        if self._values is None:
            found: set[str] = set(self._extra)
            try:
                env = getattr(self._request, "environment_variables", None)
                found.update(sensitive_values(env))
            except Exception:  # a malformed variable: mask what else is known
                pass
            for value in self._inputs:
                found.update(secrets_in(value))
            found.update(_process_values)
            found.discard("")
            self._values = _longest_first(found)
        return self._values


# The context variable's own methods, not functions around them: dispatch calls these
# on every task.

current_task_secrets = _task.get
"""The secrets of the task running in this context, if any."""

enter_task = _task.set
"""Make the given secrets the current task's (for the log filter and `ctx.mask`)."""

leave_task = _task.reset
"""Undo `enter_task` with the token it returned."""


def active_values() -> tuple[str, ...]:
    """The values to mask here: the current task's and the serving apps'."""
    task = _task.get()
    return task.values() if task is not None else _process_values


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every occurrence of each secret replaced by a mask."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_data(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` (JSON-like data) with secrets masked in every string, keys included."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub_data(k, secrets): scrub_data(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_data(item, secrets) for item in value]
    return value


class _ScrubFilter(logging.Filter):
    """Masks secrets in a record's message and exception text, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = active_values()
        if not secrets:
            return True
        message = record.getMessage()
        masked = scrub(message, secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True


_FILTER = _ScrubFilter()
_LOGGERS = ("tempest_sdk.app", "tempest_sdk.runner")


def install_log_filter() -> None:
    """Put the masking filter on the SDK's loggers (once; the SDK's own loggers only,
    so the application's logging stays as it configured it)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
