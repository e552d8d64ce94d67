"""Exercise every capability of an app end to end: emulator → runner → app → report."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..models import Operation
from ._samples import sample_input

if TYPE_CHECKING:
    from .. import App
    from ..emulator import Emulator

__all__ = ["Step", "StepResult", "default_steps", "exercise", "load_steps", "run_steps"]

_NEEDS_RESOURCE = {"read", "update", "delete"}


@dataclass(frozen=True, slots=True)
class Step:
    """One task to enqueue: an operation (`create`, `read`, ...), `list`, or an action.

    An empty `external_id` on a step that acts on a resource means "the resource the
    previous steps created or listed for this type".
    """

    app_id: str
    version: str
    resource_type: str
    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    external_id: str = ""

    @property
    def label(self) -> str:
        """`type.name`, as shown in a summary."""
        return f"{self.resource_type}.{self.name}"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What became of a step: `ok`, `error` or `skipped`, how long it took, and why."""

    step: Step
    status: str
    duration: float
    message: str = ""
    task_id: str | None = None
    report: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the task was reported `ok`."""
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "app_id": self.step.app_id,
            "version": self.step.version,
            "type": self.step.resource_type,
            "name": self.step.name,
            "task_id": self.task_id,
            "status": self.status,
            "duration_ms": round(self.duration * 1000, 1),
            "message": self.message,
        }


def default_steps(app: App) -> list[Step]:
    """One step per capability of each resource type, in the order a user would go.

    create → read → update → list → each action → delete, with inputs built from the
    input schemas' defaults and examples.
    """
    steps: list[Step] = []
    for d in app.describe().resources:
        wanted: list[tuple[str, Mapping[str, Any] | None]] = []
        if d.create_supported:
            wanted.append(("create", d.create_input_schema))
        if d.read_supported:
            wanted.append(("read", None))
        if d.update_supported:
            wanted.append(("update", d.update_input_schema))
        if d.list_supported:
            wanted.append(("list", None))
        wanted.extend((str(a.name), a.input_json_schema) for a in d.actions or [])
        if d.delete_supported:
            wanted.append(("delete", None))
        steps.extend(
            Step(app.app_id, app.version, d.type, name, sample_input(schema))
            for name, schema in wanted
        )
    return steps


def load_steps(path: str | Path, apps: Sequence[App]) -> list[Step]:
    """Read steps from a JSON file: a list of objects like

    `{"type": "example", "operation": "create", "input": {"color": "blue"}}` or
    `{"type": "example", "action": "rebuild", "external_id": "example-1"}`; `app_id` and
    `version` may be left out when only one app is served.

    Raises:
        ValueError: the file is not such a list; the message says which entry and why.
    """
    source = Path(path)
    try:
        entries = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read tasks from {str(source)!r}: {exc}") from None
    if not isinstance(entries, list):
        raise ValueError(f"{str(source)!r} must hold a JSON list of tasks")
    steps = []
    for i, entry in enumerate(entries):
        where = f"{source}[{i}]"
        if not isinstance(entry, dict) or "type" not in entry:
            raise ValueError(f"{where}: each task is an object with at least 'type'")
        name = entry.get("operation") or entry.get("action")
        if not isinstance(name, str):
            raise ValueError(f"{where}: give 'operation' (create, read, ...) or 'action'")
        app = _pick_app(apps, entry.get("app_id"), entry.get("version"), where)
        payload = entry.get("input", {})
        if not isinstance(payload, dict):
            raise ValueError(f"{where}: 'input' must be an object")
        steps.append(
            Step(
                app.app_id,
                app.version,
                str(entry["type"]),
                name,
                payload,
                str(entry.get("external_id", "")),
            )
        )
    return steps


def _pick_app(apps: Sequence[App], app_id: object, version: object, where: str) -> App:
    matches = [
        a
        for a in apps
        if (app_id is None or a.app_id == app_id) and (version is None or a.version == version)
    ]
    if len(matches) != 1:
        served = ", ".join(f"{a.app_id} {a.version}" for a in apps)
        raise ValueError(f"{where}: name one of the served apps ({served}) with app_id/version")
    return matches[0]


async def run_steps(
    emulator: Emulator, steps: Sequence[Step], *, step_timeout: float = 60.0
) -> list[StepResult]:
    """Enqueue `steps` one after another on a running emulator and wait for each report.

    A runner must be serving the steps' apps against the emulator meanwhile.
    """
    known: dict[tuple[str, str, str], str] = {}
    results = []
    for step in steps:
        key = (step.app_id, step.version, step.resource_type)
        external_id = step.external_id or known.get(key, "")
        if step.name in _NEEDS_RESOURCE and not external_id:
            results.append(
                StepResult(step, "skipped", 0.0, "no resource to act on: nothing was created")
            )
            continue
        started = time.perf_counter()
        task_id = _enqueue(emulator, step, external_id)
        report = await _wait_for_report(emulator, task_id, step_timeout, step.label)
        duration = time.perf_counter() - started
        status = str(report.get("status"))
        results.append(
            StepResult(step, status, duration, report.get("message") or "", task_id, report)
        )
        if status == "ok":
            _remember(known, key, step.name, report)
    return results


def _enqueue(emulator: Emulator, step: Step, external_id: str) -> str:
    app_id, version, kind = step.app_id, step.version, step.resource_type
    if step.name == "list":
        return emulator.enqueue_list(app_id, version, kind)
    if step.name in Operation.__members__.values():
        return emulator.enqueue_operation(
            app_id, version, step.name, kind, external_id=external_id, input=dict(step.input)
        )
    return emulator.enqueue_action(
        app_id, version, kind, step.name, external_id=external_id, input=dict(step.input)
    )


async def _wait_for_report(
    emulator: Emulator, task_id: str, timeout: float, label: str
) -> Mapping[str, Any]:
    delay = 0.001
    with anyio.move_on_after(timeout):
        while not (reports := emulator.reports(task_id)):
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return reports[0]
    raise TimeoutError(f"no report for {label} (task {task_id}) within {timeout:g} s")


def _remember(
    known: dict[tuple[str, str, str], str],
    key: tuple[str, str, str],
    name: str,
    report: Mapping[str, Any],
) -> None:
    response = report.get("response") or {}
    if name == "delete":
        known.pop(key, None)
    elif isinstance(response.get("resource"), dict) and response["resource"].get("external_id"):
        known[key] = response["resource"]["external_id"]
    elif name == "list" and key not in known:
        for resource in response.get("resources") or []:
            if resource.get("external_id"):
                known[key] = resource["external_id"]
                break


async def exercise(
    *apps: App,
    steps: Sequence[Step] | None = None,
    step_timeout: float = 60.0,
    **runner_options: Any,
) -> list[StepResult]:
    """Serve `apps` against a fresh local emulator and run every step (by default, every
    capability of every app, see `default_steps`); return what became of each.

    Use it in a test to check that an app works end to end, through the real runner:
    `assert all(r.ok for r in await exercise(app))`.
    """
    from ..emulator import Emulator
    from ..runner import Runner

    emulator = Emulator()
    plan = list(steps) if steps is not None else [s for a in apps for s in default_steps(a)]
    async with emulator.serve():
        client = emulator.client()
        async with client, Runner(list(apps), client=client, connect=True, **runner_options):
            return await run_steps(emulator, plan, step_timeout=step_timeout)
