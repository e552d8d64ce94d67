"""Exercise every capability of an app end to end: emulator → runner → app → report."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..models import Operation
from ._samples import run_suffix, sample_input

if TYPE_CHECKING:
    from .. import App
    from ..emulator import Emulator

__all__ = ["Step", "StepResult", "default_steps", "exercise", "load_steps", "run_steps"]

_NEEDS_RESOURCE = {"read", "update", "delete"}
# Every step name that is not an action's.
_KINDS = {str(operation) for operation in Operation} | {"list"}


@dataclass(frozen=True, slots=True)
class Step:
    """One task to enqueue: an operation (`create`, `read`, ...), `list`, or an action.

    An empty `external_id` on a step that acts on a resource means "the resource the
    previous steps created for this type" (or, for `read` only, one they listed).
    `cleanup` marks the deletes `run_steps` adds to remove what the run created.
    """

    app_id: str
    version: str
    resource_type: str
    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    external_id: str = ""
    cleanup: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """`type.name`, as shown in a summary (`(clean-up)` for an added delete)."""
        return f"{self.resource_type}.{self.name}" + (" (clean-up)" if self.cleanup else "")


@dataclass(frozen=True, slots=True)
class StepResult:
    """What became of a step: `ok`, `error` or `skipped` (with why), and how long it took.

    `duration` runs from the moment the task was handed out to its report (the
    handler's time, plus the report's trip on loopback); `wait` is the time before it
    was handed out (the runner's polling pace). A skipped step is not a failure: a run
    fails only on a step that `failed`.
    """

    step: Step
    status: str
    duration: float
    message: str = ""
    task_id: str | None = None
    report: Mapping[str, Any] | None = None
    wait: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the task was reported `ok`."""
        return self.status == "ok"

    @property
    def failed(self) -> bool:
        """Whether the step failed: an error report (a skipped step did not fail)."""
        return self.status not in ("ok", "skipped")

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "app_id": self.step.app_id,
            "version": self.step.version,
            "type": self.step.resource_type,
            "name": self.step.name,
            "cleanup": self.step.cleanup,
            "task_id": self.task_id,
            "status": self.status,
            "duration_ms": round(self.duration * 1000, 1),
            "wait_ms": round(self.wait * 1000, 1),
            "message": self.message,
        }


def default_steps(app: App) -> list[Step]:
    """One step per capability of each resource type, in the order a user would go.

    create → list → read → update → each action → delete, with inputs built from the
    input schemas' defaults and examples; the string values a create takes from
    examples carry a suffix new in every call, so that two runs against one service
    (or a run after a crash that skipped the clean-up) never create the same thing.
    """
    suffix = run_suffix()
    steps: list[Step] = []
    for d in app.describe().resources:
        wanted: list[tuple[str, Mapping[str, Any] | None]] = []
        if d.create_supported:
            wanted.append(("create", d.create_input_schema))
        if d.list_supported:
            # Before read: a type without create can still be read, through a listed one.
            wanted.append(("list", None))
        if d.read_supported:
            wanted.append(("read", None))
        if d.update_supported:
            wanted.append(("update", d.update_input_schema))
        wanted.extend((str(a.name), a.input_json_schema) for a in d.actions or [])
        if d.delete_supported:
            wanted.append(("delete", None))
        steps.extend(
            Step(
                app.app_id,
                app.version,
                d.type,
                name,
                sample_input(schema, unique=suffix if name == "create" else ""),
            )
            for name, schema in wanted
        )
    return steps


def load_steps(path: str | Path, apps: Sequence[App]) -> list[Step]:
    """Read steps from a JSON file: a list of objects like

    `{"type": "example", "operation": "create", "input": {"color": "blue"}}` or
    `{"type": "example", "action": "rebuild", "external_id": "example-1"}`; `app_id` and
    `version` may be left out when only one app is served. An entry may carry the
    task's variables: `"env": {"REGION": "eu"}` (plain), `"secrets": {"TOKEN": "..."}`,
    and `"secrets_from_env": ["TOKEN"]` (each read from this process's environment,
    so that the file holds no secret).

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
        if name == "list" and any(k in entry for k in ("env", "secrets", "secrets_from_env")):
            raise ValueError(f"{where}: list tasks carry no environment variables")
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
                env=_strings(entry.get("env", {}), f"{where}.env"),
                secrets=_entry_secrets(entry, where),
            )
        )
    return steps


def _strings(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f'{where}: must be an object of strings, like {{"REGION": "eu"}}')
    return dict(value)


def _entry_secrets(entry: Mapping[str, Any], where: str) -> dict[str, str]:
    secrets = _strings(entry.get("secrets", {}), f"{where}.secrets")
    names = entry.get("secrets_from_env", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}.secrets_from_env: must be a list of variable names")
    for name in names:
        if name not in os.environ:
            raise ValueError(f"{where}.secrets_from_env: no environment variable {name}")
        secrets[name] = os.environ[name]
    return secrets


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
    emulator: Emulator,
    steps: Sequence[Step],
    *,
    step_timeout: float = 60.0,
    apps: Sequence[App] = (),
    act_on_existing: bool = False,
) -> list[StepResult]:
    """Enqueue `steps` one after another on a running emulator and wait for each report.

    A runner must be serving the steps' apps against the emulator meanwhile.

    Safe by default: a step without an `external_id` that would change a resource
    (update, delete, an action) acts only on a resource an earlier step of this run
    created; `read` may also use one a `list` step returned. Otherwise the step is
    skipped, saying why. What the run created and did not delete is deleted at the
    end (a `clean-up` step), for the types of `apps` that support delete.

    Args:
        emulator: the emulator the runner serves.
        steps: the steps, in order.
        step_timeout: seconds to wait for each report.
        apps: the served apps, to know which types can be cleaned up.
        act_on_existing: also update, delete and run actions on resources that
            `list` returned, which this run did not create. They may be real data
            that the app's handlers change in the external system: only for a
            system whose data you may lose.
    """
    created: dict[tuple[str, str, str], str] = {}
    creators: dict[tuple[str, str, str], Step] = {}  # their variables serve the clean-up
    listed: dict[tuple[str, str, str], str] = {}
    # Types whose resources steps create or list: their actions act on one of them.
    # An action of another type needs no resource.
    with_resources = {
        (s.app_id, s.version, s.resource_type) for s in steps if s.name in ("create", "list")
    }
    results = []
    for step in steps:
        key = (step.app_id, step.version, step.resource_type)
        external_id = step.external_id or _target(step, key, created, listed, act_on_existing)
        needs_one = step.name in _NEEDS_RESOURCE or (
            step.name not in _KINDS and key in with_resources
        )
        if needs_one and not external_id:
            results.append(StepResult(step, "skipped", 0.0, _why_skipped(step, key, listed)))
            continue
        result = await _run(emulator, step, external_id, step_timeout)
        results.append(result)
        if result.ok:
            _remember(created, listed, key, step.name, result.report or {})
            if step.name == "create":
                creators[key] = step
    results.extend(await _clean_up(emulator, created, creators, apps, step_timeout))
    return results


def _target(
    step: Step,
    key: tuple[str, str, str],
    created: Mapping[tuple[str, str, str], str],
    listed: Mapping[tuple[str, str, str], str],
    act_on_existing: bool,
) -> str:
    if key in created:
        return created[key]
    if step.name == "read" or act_on_existing:
        return listed.get(key, "")
    return ""


def _why_skipped(step: Step, key: tuple[str, str, str], listed: Mapping[Any, str]) -> str:
    if key in listed:
        return (
            f"no resource created in this run to act on; {step.name} is not run on the "
            f"listed {listed[key]!r}, which this run did not create (opt in with "
            "act_on_existing=True or --act-on-existing-resources)"
        )
    return "no resource to act on: nothing was created in this run"


async def _run(emulator: Emulator, step: Step, external_id: str, timeout: float) -> StepResult:
    started = time.perf_counter()
    task_id = _enqueue(emulator, step, external_id)
    report = await _wait_for_report(emulator, task_id, timeout, step.label)
    total = time.perf_counter() - started
    wait, run = emulator.timing(task_id)
    status = str(report.get("status"))
    message = report.get("message") or ""
    if wait is None or run is None:  # pragma: no cover - a reported task was handed out
        return StepResult(step, status, total, message, task_id, report)
    return StepResult(step, status, run, message, task_id, report, wait=wait)


async def _clean_up(
    emulator: Emulator,
    created: Mapping[tuple[str, str, str], str],
    creators: Mapping[tuple[str, str, str], Step],
    apps: Sequence[App],
    timeout: float,
) -> list[StepResult]:
    deletable = {
        (app.app_id, app.version, d.type)
        for app in apps
        for d in app.describe().resources
        if d.delete_supported
    }
    results = []
    for (app_id, version, kind), external_id in created.items():
        creator = creators.get((app_id, version, kind))
        step = Step(
            app_id,
            version,
            kind,
            "delete",
            external_id=external_id,
            cleanup=True,
            env=creator.env if creator else {},
            secrets=creator.secrets if creator else {},
        )
        if (app_id, version, kind) not in deletable:
            message = f"{external_id!r} was left in place: {kind} has no delete handler"
            results.append(StepResult(step, "skipped", 0.0, message))
            continue
        results.append(await _run(emulator, step, external_id, timeout))
    return results


def _enqueue(emulator: Emulator, step: Step, external_id: str) -> str:
    app_id, version, kind = step.app_id, step.version, step.resource_type
    if step.name == "list":
        return emulator.enqueue_list(app_id, version, kind)
    from ..emulator import environment_of, resource_request

    variables = environment_of(step.env, step.secrets)
    request = resource_request(
        kind,
        step.name,
        external_id=external_id,
        input=dict(step.input),
        environment_variables=variables or None,
    )
    return emulator.enqueue(app_id, version, request)


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
    created: dict[tuple[str, str, str], str],
    listed: dict[tuple[str, str, str], str],
    key: tuple[str, str, str],
    name: str,
    report: Mapping[str, Any],
) -> None:
    response = report.get("response") or {}
    if name == "delete":
        created.pop(key, None)
    elif name == "create":
        resource = response.get("resource")
        if isinstance(resource, dict) and resource.get("external_id"):
            created[key] = resource["external_id"]
    elif name == "list" and key not in listed:
        for resource in response.get("resources") or []:
            if resource.get("external_id"):
                listed[key] = resource["external_id"]
                break


async def exercise(
    *apps: App,
    steps: Sequence[Step] | None = None,
    step_timeout: float = 60.0,
    act_on_existing: bool = False,
    **runner_options: Any,
) -> list[StepResult]:
    """Serve `apps` against a fresh local emulator and run every step (by default, every
    capability of every app, see `default_steps`); return what became of each.

    Safe by default: it changes only what it created, and deletes that at the end
    (see `run_steps`, and `act_on_existing` there). Use it in a test to check that an
    app works end to end, through the real runner:
    `assert not any(r.failed for r in await exercise(app))`.
    """
    from ..emulator import Emulator
    from ..runner import Runner

    emulator = Emulator()
    plan = list(steps) if steps is not None else [s for a in apps for s in default_steps(a)]
    async with emulator.serve():
        client = emulator.client()
        async with client, Runner(list(apps), client=client, connect=True, **runner_options):
            return await run_steps(
                emulator,
                plan,
                step_timeout=step_timeout,
                apps=apps,
                act_on_existing=act_on_existing,
            )
