"""What happened on an emulator: task states, reports, connects, counts, violations."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from ..models import Task, parse_task
from ._core import Core, Violation
from ._state import TaskState

__all__ = ["Inspection"]


class Inspection:
    """Read-only views of an emulator's state, each taken under its lock."""

    _core: Core

    def queued(self, app_id: str | None = None, version: str | None = None) -> list[str]:
        """Ids of the tasks waiting to be handed out, in queue order."""
        return self._ids("queued", app_id, version)

    def leased(self, app_id: str | None = None, version: str | None = None) -> list[str]:
        """Ids of the tasks handed out and awaiting a report, with their lease running."""
        return self._ids("leased", app_id, version)

    def reported(self, app_id: str | None = None, version: str | None = None) -> list[str]:
        """Ids of the tasks with at least one report, in the order they were reported."""
        return self._ids("reported", app_id, version)

    def _ids(self, state: TaskState, app_id: str | None, version: str | None) -> list[str]:
        core = self._core
        with core.lock:
            core.store.expire(core.clock())
            ids = core.store.in_state(state)
            tasks = core.store.tasks
            return [
                i
                for i in ids
                if (app_id is None or tasks[i].app_id == app_id)
                and (version is None or tasks[i].version == version)
            ]

    def task(self, task_id: str) -> Task:
        """The task as `next` hands it out (secrets stay masked in its repr)."""
        with self._core.lock:
            answer = self._core.record(task_id).answer
        return parse_task(answer)

    def reports(self, task_id: str) -> list[dict[str, Any]]:
        """Every report received for a task, duplicates included, in arrival order."""
        with self._core.lock:
            return copy.deepcopy(self._core.record(task_id).reports)

    def timing(self, task_id: str) -> tuple[float | None, float | None]:
        """Seconds a task waited to be handed out, and from then to its first report
        (the handler's time, plus the report's trip); None where it has not happened."""
        with self._core.lock:
            record = self._core.record(task_id)
            leased, reported = record.leased_at, record.reported_at
            wait = leased - record.queued_at if leased is not None else None
            run = reported - leased if reported is not None and leased is not None else None
            return wait, run

    def deliveries(self, task_id: str) -> int:
        """How many times `next` handed the task out."""
        with self._core.lock:
            return self._core.record(task_id).deliveries

    @property
    def duplicate_reports(self) -> int:
        """How many reports arrived for tasks that were already reported."""
        with self._core.lock:
            return self._core.store.duplicate_reports

    @property
    def connects(self) -> list[dict[str, Any]]:
        """Every accepted `apps.version.connect` body, in arrival order."""
        with self._core.lock:
            return copy.deepcopy(self._core.connects)

    @property
    def health_reports(self) -> list[dict[str, Any]]:
        """Every accepted `apps.versions.health` body, in arrival order."""
        with self._core.lock:
            return copy.deepcopy(self._core.health_reports)

    @property
    def request_counts(self) -> Counter[tuple[str, int]]:
        """Requests by `(endpoint, status)`; dropped connections count as status 0."""
        with self._core.lock:
            return Counter(self._core.request_counts)

    @property
    def violations(self) -> list[Violation]:
        """Every request rejected for breaking the contract, in arrival order."""
        with self._core.lock:
            return list(self._core.violations)
