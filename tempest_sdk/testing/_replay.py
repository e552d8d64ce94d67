"""Replay a record file (`serve --record`) against an app, and compare the reports.

Each recorded task runs through `App.dispatch`, as the runner runs it, inside the app's
lifespan, one at a time in recorded order, with no network of the SDK's. Its new report
is compared with the recorded one, ignoring the fields that differ on every run (the
report's `task_id`; the record's timings are not part of the report) and those the
caller names.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from .._recordings import (
    RecordedTask,
    RecordFilter,
    RecordingError,
    masked_names,
    read_records,
    with_values,
)
from ..models import TaskReport, TaskSubject
from ._blocking import run_blocking

if TYPE_CHECKING:
    from .. import App

__all__ = ["ALWAYS_IGNORED", "Comparison", "ReplayOptions", "areplay", "replay"]

ALWAYS_IGNORED: tuple[str, ...] = ("task_id",)
"""Report fields never compared: they differ on every run."""

ComparisonStatus = Literal["match", "differs", "unreadable", "skipped"]

CHANGES_DATA = ("create", "update", "delete")
"""The operations replayed only when asked (`writes=True`, `--writes`), with every action:
their handlers change the systems they call."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """One line of a record file, replayed: the report recorded and the report now.

    Attributes:
        line: the line number in the record file, from 1.
        task_id: the recorded task's id ("" for an unreadable line).
        subject: what the task is about (None for an unreadable line).
        recorded: the report recorded (None for an unreadable line).
        replayed: the report the app gives now (None for an unreadable line).
        recorded_version: the app version that served the task in production.
        problem: why the line could not be replayed ("" when it was).
        skipped: why the task was not replayed ("" when it was): it changes data and
            the replay was not asked to (`writes=True`).
        ignored: the report fields left out of the comparison (dotted paths).
        diff: a unified diff of the two reports as JSON ("" when they match).
    """

    line: int
    task_id: str
    subject: TaskSubject | None
    recorded: TaskReport | None
    replayed: TaskReport | None
    recorded_version: str = ""
    problem: str = ""
    skipped: str = ""
    ignored: tuple[str, ...] = ALWAYS_IGNORED
    diff: str = field(default="", repr=False)

    @property
    def status(self) -> ComparisonStatus:
        """`"match"`, `"differs"`, `"unreadable"` (the line could not be replayed) or
        `"skipped"` (a task that changes data, not replayed without `writes=True`)."""
        if self.problem:
            return "unreadable"
        if self.skipped:
            return "skipped"
        return "differs" if self.diff else "match"

    @property
    def matches(self) -> bool:
        """Whether the app gives the recorded report again (the ignored fields aside)."""
        return self.status == "match"

    def to_json(self) -> dict[str, Any]:
        """The comparison as JSON-ready data."""
        return {
            "line": self.line,
            "task_id": self.task_id,
            "task": self.subject.describe() if self.subject is not None else None,
            "status": self.status,
            "recorded_version": self.recorded_version,
            "recorded": self.recorded.to_wire() if self.recorded is not None else None,
            "replayed": self.replayed.to_wire() if self.replayed is not None else None,
            "ignored": list(self.ignored),
            "problem": self.problem or None,
            "skipped": self.skipped or None,
            "diff": self.diff or None,
        }


class ReplayOptions(TypedDict, total=False):
    """The keyword arguments of `areplay`, which `replay` passes on (see `areplay`)."""

    secrets: Mapping[str, str] | None
    env: Mapping[str, str] | None
    only: str | Sequence[str] | None
    ignore: Iterable[str]
    keep_going: bool
    timeout: float | None
    environ: Mapping[str, str] | None
    writes: bool


async def areplay(
    path: str | os.PathLike[str],
    app: App,
    *,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    only: str | Sequence[str] | None = None,
    ignore: Iterable[str] = (),
    keep_going: bool = False,
    timeout: float | None = 300.0,
    environ: Mapping[str, str] | None = None,
    writes: bool = False,
) -> list[Comparison]:
    """Replay the tasks of `app` recorded in `path` against `app`; one comparison each.

    Tasks recorded for other apps in the file are skipped; tasks recorded by another
    version of the app are replayed against this one (a recording made in production
    by v3 is a regression test of v4).

    The handlers run for real. Reads and lists are replayed; creates, updates, deletes
    and actions change the systems their handlers call, so they are replayed only with
    `writes=True` (point the app at a test system first) and are otherwise
    `"skipped"` comparisons.

    Args:
        path: a record file written by `serve --record` (`record=`).
        app: the app to replay against (entered in its lifespan for the whole replay).
        secrets: values of the variables recorded masked, by name.
        env: values of variables by name, replacing the recorded ones (masked or not).
        only: which recorded tasks to replay (`"errors"`, `"type=NAME"`, `"task=ID"`,
            ... as `record_only` takes them); default: all.
        ignore: report fields not to compare, as dotted paths (`"message"`,
            `"response.resource.properties.updated_at"`; `*` matches any key or index).
        keep_going: give a line that cannot be read as an `"unreadable"` comparison
            instead of raising.
        timeout: seconds each task may run (the runner's default, 300).
        environ: where masked values not given in `secrets` or `env` are looked up
            by name; default: the process's environment.
        writes: also replay creates, updates, deletes and actions (their handlers
            change the systems they call).

    Raises:
        RecordingError: the file cannot be read, a line cannot be read (unless
            `keep_going`), it holds no task of `app` (that `only` selects), or a
            masked value is given nowhere (the message names them and how to give them).
        ValueError: `only` is not a filter.
    """
    chosen = RecordFilter.parse(only)
    ignored = (*ALWAYS_IGNORED, *(name for name in ignore if name not in ALWAYS_IGNORED))
    records: list[RecordedTask | RecordingError] = []
    others: dict[tuple[str, str], int] = {}
    seen = 0
    for item in read_records(path):
        seen += 1
        if isinstance(item, RecordingError):
            if not keep_going:
                raise item
            records.append(item)
        elif item.app_id != app.app_id:
            key = (item.app_id, item.version)
            others[key] = others.get(key, 0) + 1
        elif chosen.matches(item.subject, str(item.report.status), item.task.task_id):
            records.append(item)
    if not seen:
        raise RecordingError("holds no record", path=path, line=None)
    if not records:
        raise RecordingError(_nothing_to_replay(app, chosen, others), path=path, line=None)
    values = _values(
        [item for item in records if isinstance(item, RecordedTask)],
        secrets or {},
        env or {},
        os.environ if environ is None else environ,
        path,
    )
    results: list[Comparison] = []
    async with app.serving():
        for item in records:
            if isinstance(item, RecordingError):
                assert item.line is not None
                results.append(Comparison(item.line, "", None, None, None, problem=str(item)))
                continue
            if not writes and _changes_data(item.subject):
                results.append(_skipped(item))
                continue
            task = with_values(item.task, values)
            # `App.dispatch` never raises: a handler's failure, and a bug of the SDK's
            # own, are error reports like any other.
            report = await app.dispatch(task, timeout=timeout)
            results.append(_compare(item, report, ignored))
    return results


def replay(
    path: str | os.PathLike[str], app: App, **options: Unpack[ReplayOptions]
) -> list[Comparison]:
    """The synchronous form of `areplay`, for plain test functions and scripts; it
    takes the same arguments.

    Example:
        ```python
        from tempest_sdk.testing import replay

        def test_production_traffic_still_gets_the_same_reports():
            recorded = "tests/recordings/tasks.jsonl"
            comparisons = replay(recorded, app, secrets={"API_KEY": "test"}, writes=True)
            for comparison in comparisons:
                assert comparison.matches, comparison.diff
        ```
    """
    call = functools.partial(areplay, path, app, **options)
    return run_blocking("replay", call)


def _changes_data(subject: TaskSubject) -> bool:
    return subject.kind == "action" or subject.name in CHANGES_DATA


def _skipped(record: RecordedTask) -> Comparison:
    return _comparison(
        record,
        None,
        skipped=(
            f"{record.subject.describe()} changes data: its handler would act on the "
            "systems it calls; replay it with --writes (writes=True) once the app points "
            "at a test system"
        ),
    )


def _comparison(
    record: RecordedTask,
    replayed: TaskReport | None,
    *,
    skipped: str = "",
    ignored: tuple[str, ...] = ALWAYS_IGNORED,
    diff: str = "",
) -> Comparison:
    """The comparison of a line that was read: what its record holds, and the outcome."""
    return Comparison(
        line=record.line,
        task_id=record.task.task_id,
        subject=record.subject,
        recorded=record.report,
        replayed=replayed,
        recorded_version=record.version,
        skipped=skipped,
        ignored=ignored,
        diff=diff,
    )


def _nothing_to_replay(
    app: App, chosen: RecordFilter, others: Mapping[tuple[str, str], int]
) -> str:
    if others:
        held = ", ".join(f"{app_id} {version} ({n})" for (app_id, version), n in others.items())
        return f"holds no task of app {app.app_id!r}; it holds tasks of {held}"
    return f"holds no task of app {app.app_id!r} that matches --only {chosen}"


def _values(
    records: Sequence[RecordedTask],
    secrets: Mapping[str, str],
    env: Mapping[str, str],
    environ: Mapping[str, str],
    path: str | os.PathLike[str],
) -> dict[str, str]:
    """The value of each variable to set: given ones, then masked ones from `environ`."""
    values = {**env, **secrets}
    missing = []
    for name in masked_names(records):
        if name in values:
            continue
        if name in environ:
            values[name] = environ[name]
        else:
            missing.append(name)
    if missing:
        names = ", ".join(sorted(missing))
        raise RecordingError(
            f"its tasks were recorded with the value of {names} masked: give "
            f"{'each' if len(missing) > 1 else 'it'} with --secret NAME=VALUE (secrets= in "
            "Python) or set it in the environment",
            path=path,
            line=None,
        )
    return values


def _compare(record: RecordedTask, report: TaskReport, ignored: tuple[str, ...]) -> Comparison:
    before = _without(record.report.to_wire(), ignored)
    after = _without(report.to_wire(), ignored)
    diff = ""
    if before != after:
        diff = "".join(
            difflib.unified_diff(
                _lines(before),
                _lines(after),
                fromfile=f"recorded (line {record.line}, {record.app_id} {record.version})",
                tofile="replayed",
            )
        )
    return _comparison(record, report, ignored=ignored, diff=diff)


def _lines(data: Any) -> list[str]:
    return [line + "\n" for line in json.dumps(data, indent=2, sort_keys=True).splitlines()]


def _without(data: Any, paths: Sequence[str]) -> Any:
    for path in paths:
        data = _drop(data, path.split("."))
    return data


def _drop(data: Any, parts: list[str]) -> Any:
    """`data` without what `parts` (a dotted path, `*` any key or index) leads to."""
    if not parts:
        return data
    head, rest = parts[0], parts[1:]
    if isinstance(data, dict):
        keys = list(data) if head == "*" else [head] if head in data else []
        if not rest:
            return {k: v for k, v in data.items() if k not in keys}
        return {k: (_drop(v, rest) if k in keys else v) for k, v in data.items()}
    if isinstance(data, list):
        if head == "*":
            return [_drop(item, rest) for item in data] if rest else []
        if head.isdigit() and int(head) < len(data):
            index = int(head)
            if not rest:
                return data[:index] + data[index + 1 :]
            return [_drop(item, rest) if i == index else item for i, item in enumerate(data)]
    return data
