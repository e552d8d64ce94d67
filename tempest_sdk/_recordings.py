"""The record format of `serve --record`: one JSON object a line per served task.

Owned here, for the runner's writer (`runner/_record.py`) and the testing kit's reader
(`testing/_replay.py`). A line of format 1:

    {"format": 1, "sdk": "0.9.0", "app_id": "helloworld", "version": "v1",
     "task_id": "...", "kind": "operation", "resource_type": "example", "name": "create",
     "status": "ok", "started_at": "2026-12-07T15:04:05.123456Z", "duration": 0.0123,
     "waited": 0.0, "task": {... the task as received ...}, "report": {... as sent ...}}

`task` is the `next` answer as the runner read it (fields this SDK does not know kept),
with the value of every sensitive variable (any type but `variable`) replaced by `MASK`:
its name and type stay, so a replay can be given the value again. Then the whole line
passes the masking owner (`_secrets`) with the task's secrets and the process's: its
sensitive variables, secret inputs, `ctx.mask` values and the API token, in every
form. `started_at` is wall-clock UTC; `duration` and `waited` are seconds (monotonic).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import to_json

from ._errors import TempestError
from ._secrets import MASK, Masker, TaskSecrets, masker_for, scrub_data_with, scrub_with
from ._version import __version__
from .models import Task, TaskReport, TaskSubject, describe_errors

__all__ = [
    "FORMAT",
    "FILTER_KEYS",
    "RecordFilter",
    "RecordedTask",
    "RecordingError",
    "encode_record",
    "masked_names",
    "normalized_filter",
    "read_records",
    "rotated_paths",
    "with_values",
]

FORMAT: Final = 1
"""The version of the record format this SDK writes and reads."""

_REQUIRED = ("app_id", "version", "task", "report")
# Fields that are never secrets, restored after a line was masked value by value (a
# secret of one or two characters, masked where it stands whole, could be "ok").
_FIXED = ("format", "sdk", "status", "kind", "started_at")


class RecordingError(TempestError):
    """A record file, or a line of it, cannot be read (the message says where and why).

    Attributes:
        path: the file.
        line: the line number (from 1), or None for the file as a whole.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str], line: int | None) -> None:
        where = f"{os.fspath(path)}, line {line}" if line is not None else os.fspath(path)
        super().__init__(f"{where}: {message}")
        self.path = os.fspath(path)
        self.line = line


# -- writing ------------------------------------------------------------------------------


def encode_record(
    *,
    app_id: str,
    version: str,
    task: Task,
    report: TaskReport,
    started_at: float,
    duration: float,
    waited: float = 0.0,
    secrets: Sequence[str] | None = None,
    maskers: Sequence[Masker] | None = None,
    task_data: dict[str, Any] | None = None,
) -> bytes:
    """One record line (ending in a newline) for a served task and the report it got.

    Args:
        app_id: the app that served the task.
        version: its version.
        task: the task as received.
        report: the report sent.
        started_at: when the task started, seconds since the epoch.
        duration: seconds the task took.
        waited: seconds it waited for its limits before it started.
        secrets: the secret values to mask in the whole line, every form of each:
            the task's and the process's (`TaskSecrets.values()`, taken when the task
            ended: an app's settings leave the process when it stops, before its
            last records may be written); default: the task's variables' and the
            process's now.
        maskers: the same secrets as their maskers (`TaskSecrets.maskers()`, taken
            when the task ended), instead of `secrets`: what the runner passes, the
            maskers its task already holds.
        task_data: `task.to_wire()` taken when the task was received (a handler may
            change the objects it is given); default: taken now. Changed in place.
    """
    subject = task.subject
    if task_data is None:
        task_data = task.to_wire()
    request = task_data.get("task")
    variables = request.get("environment_variables") if isinstance(request, dict) else None
    if isinstance(variables, list):
        for variable in variables:
            # Any type but `variable` is sensitive, an unknown one too: name and type stay.
            if isinstance(variable, dict) and variable.get("type") != "variable":
                variable["value"] = MASK
    record: dict[str, Any] = {
        "format": FORMAT,
        "sdk": __version__,
        "app_id": app_id,
        "version": version,
        "task_id": task.task_id,
        "kind": subject.kind,
        "resource_type": subject.resource_type,
        "name": subject.name,
        "status": str(report.status),
        "started_at": _timestamp(started_at),
        "duration": round(duration, 6),
        "waited": round(waited, 6),
        "task": task_data,
        "report": report.to_wire(),
    }
    if maskers is None:
        maskers = (
            (masker_for(secrets),) if secrets is not None else TaskSecrets(task.task).maskers()
        )
    line = to_json(record)
    # One pass over the whole line; value by value only when it holds a secret.
    text = line.decode()
    if scrub_with(text, maskers) != text:
        masked = scrub_data_with(record, maskers)
        masked.update({name: record[name] for name in _FIXED})
        line = to_json(masked)
    return line + b"\n"


def _timestamp(seconds: float) -> str:
    whole = int(seconds)
    micros = round((seconds - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    second, text = _last_second
    if whole != second:
        # One strftime a second: records of the same second share it (the writer
        # thread is the one caller; a race would only format a second twice).
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second[:] = [whole, text]
    return f"{text}.{micros:06d}Z"


_last_second: list[Any] = [None, ""]


def rotated_paths(path: Path, files: int) -> list[Path]:
    """The files of a recording kept `files` deep, newest first: `path`, `path.1`, ..."""
    return [path, *(path.with_name(f"{path.name}.{n}") for n in range(1, files))]


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedTask:
    """One line of a record file, read and checked.

    Attributes:
        line: its line number in the file, from 1.
        app_id: the app that served it.
        version: the app version that served it.
        task: the task as received, sensitive variables' values masked.
        report: the report sent.
        started_at: when it started (UTC, ISO 8601).
        duration: seconds it took.
        sdk: the tempest-sdk version that recorded it.
    """

    line: int
    app_id: str
    version: str
    task: Task
    report: TaskReport
    started_at: str
    duration: float
    sdk: str

    @property
    def subject(self) -> TaskSubject:
        """What the task is about: kind, resource type, operation or action."""
        return self.task.subject

    @property
    def masked_variables(self) -> tuple[str, ...]:
        """The names of the task's variables recorded with a masked value."""
        variables = getattr(self.task.task, "environment_variables", None) or ()
        return tuple(
            variable.name
            for variable in variables
            if variable.is_sensitive and variable.reveal() == MASK
        )


def read_records(path: str | os.PathLike[str]) -> Iterator[RecordedTask | RecordingError]:
    """The records of a file in order; a line that cannot be read comes as the error.

    Blank lines are skipped.

    Raises:
        RecordingError: the file cannot be opened, or it is not a record file at all.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator's `with`
    except OSError as exc:
        raise RecordingError(f"cannot open it: {exc.strerror}", path=path, line=None) from None
    with handle:
        number = 0
        for raw in handle:
            number += 1
            if not raw.strip():
                continue
            yield _read_line(raw, number, path)


def _read_line(
    raw: bytes, number: int, path: str | os.PathLike[str]
) -> RecordedTask | RecordingError:
    def error(message: str) -> RecordingError:
        return RecordingError(message, path=path, line=number)

    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        if not raw.endswith(b"\n"):
            return error(
                "truncated: the file ends inside this record (the recorder was probably "
                "stopped while writing it)"
            )
        where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        what = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        return error(f"not a JSON record: {what}{where}")
    if not isinstance(data, dict):
        return error(f"not a record: a JSON {type(data).__name__}, where an object was expected")
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        return error(
            "not a tempest-sdk record: it has no 'format' number (record files are written "
            "by `tempest-sdk serve --record`)"
        )
    if version > FORMAT:
        return error(
            f"written in record format {version} by a newer tempest-sdk; this one "
            f"({__version__}) reads format {FORMAT}: upgrade tempest-sdk to replay it"
        )
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        return error(f"the record lacks {', '.join(repr(name) for name in missing)}")
    for name in ("app_id", "version"):
        if not isinstance(data[name], str):
            return error(f"{name!r} must be a string, got a {type(data[name]).__name__}")
    try:
        task = Task.from_wire(data["task"])
    except ValidationError as exc:
        return error(f"its task is not a valid task: {describe_errors(exc)}")
    try:
        report = TaskReport.from_wire(data["report"])
    except ValidationError as exc:
        return error(f"its report is not a valid report: {describe_errors(exc)}")
    duration = data.get("duration", 0.0)
    return RecordedTask(
        line=number,
        app_id=data["app_id"],
        version=data["version"],
        task=task,
        report=report,
        started_at=str(data.get("started_at", "")),
        duration=float(duration) if isinstance(duration, int | float) else 0.0,
        sdk=str(data.get("sdk", "")),
    )


# -- which tasks ----------------------------------------------------------------------------

FILTER_KEYS: Final = ("status", "type", "operation", "action", "kind", "task")
"""The keys of a `RecordFilter` criterion (`errors` is short for `status=error`)."""

_KINDS = ("operation", "action", "list")


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which tasks to record or replay: criteria like `errors`, `type=dashboard`,
    `operation=create|update`, `action=rebuild`, `kind=list`, `task=ID`.

    Values of one key are alternatives (a task matches any of them); different keys
    must all match. `errors` is `status=error`; `operation=list` matches list tasks.
    """

    criteria: tuple[tuple[str, frozenset[str]], ...] = ()

    @classmethod
    def parse(cls, spec: str | Iterable[str] | None) -> RecordFilter:
        """Read criteria from a comma-separated text or a sequence of such texts.

        Raises:
            ValueError: a criterion is not one of the known forms (the message shows them).
        """
        if spec is None:
            return cls()
        texts = [spec] if isinstance(spec, str) else list(spec)
        wanted: dict[str, set[str]] = {}
        for text in texts:
            for part in str(text).split(","):
                item = part.strip()
                if not item:
                    continue
                key, sep, value = item.partition("=")
                key = key.strip().lower()
                if not sep and key in ("errors", "error", "failed"):
                    key, value = "status", "error"
                elif not sep and key == "ok":
                    key, value = "status", "ok"
                values = {v.strip() for v in value.split("|") if v.strip()}
                if key not in FILTER_KEYS or not values:
                    raise ValueError(
                        f"{item!r} is not a task filter: use errors, status=ok|error, "
                        "type=NAME, operation=create|read|update|delete|list, action=NAME, "
                        "kind=operation|action|list or task=ID, comma-separated "
                        "(e.g. 'errors,type=dashboard')"
                    )
                if key == "status" and not values <= {"ok", "error"}:
                    raise ValueError(f"{item!r}: status is ok or error")
                if key == "kind" and not values <= set(_KINDS):
                    raise ValueError(f"{item!r}: kind is operation, action or list")
                wanted.setdefault(key, set()).update(values)
        return cls(tuple((key, frozenset(values)) for key, values in sorted(wanted.items())))

    def __bool__(self) -> bool:
        return bool(self.criteria)

    def __str__(self) -> str:
        return ",".join(f"{key}={'|'.join(sorted(values))}" for key, values in self.criteria)

    @property
    def needs_status(self) -> bool:
        """Whether the filter reads the report's status (so only a report can decide)."""
        return any(key == "status" for key, _ in self.criteria)

    def matches(self, subject: TaskSubject, status: str, task_id: str = "") -> bool:
        """Whether a task about `subject`, reported with `status`, passes the filter."""
        for key, values in self.criteria:
            if key == "status":
                found = status in values
            elif key == "type":
                found = subject.resource_type in values
            elif key == "operation":
                found = subject.kind != "action" and subject.name in values
            elif key == "action":
                found = subject.kind == "action" and subject.name in values
            elif key == "kind":
                found = subject.kind in values
            else:
                found = task_id in values
            if not found:
                return False
        return True


def normalized_filter(spec: str | Sequence[str] | None) -> str | None:
    """The filter `spec` in its canonical text, or None when it selects everything.

    Raises:
        ValueError: see `RecordFilter.parse`.
    """
    parsed = RecordFilter.parse(spec)
    return str(parsed) if parsed else None


def masked_names(records: Iterable[RecordedTask]) -> dict[str, int]:
    """Each variable name recorded masked, with how many of `records` hold it."""
    counts: dict[str, int] = {}
    for record in records:
        for name in record.masked_variables:
            counts[name] = counts.get(name, 0) + 1
    return counts


def with_values(task: Task, values: Mapping[str, str]) -> Task:
    """`task` with the variables named in `values` given those values (their type kept)."""
    variables = getattr(task.task, "environment_variables", None)
    if not variables or not any(variable.name in values for variable in variables):
        return task
    data = task.to_wire()
    for variable in data["task"]["environment_variables"]:
        if isinstance(variable, dict) and variable.get("name") in values:
            variable["value"] = values[variable["name"]]
    return Task.from_wire(data)
