"""Deduplication of redelivered tasks.

Tasks are delivered at least once: a task whose report has not arrived (yet) may be
handed out again. The ledger remembers every task from the moment it is leased
until its report is acknowledged, and then the acknowledged report itself (as
compact JSON) for the last `max_done` tasks, so that a redelivery never runs a
handler twice while this process remembers the task.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass

from ..models import TaskReport

__all__ = ["Claim", "ClaimKind", "TaskLedger"]


class ClaimKind(enum.Enum):
    """What to do with a task that `next` handed out."""

    NEW = "new"
    """Not seen (or forgotten): run it."""
    RUNNING = "running"
    """Its handler is running: skip, its report will follow."""
    REPORTING = "reporting"
    """Its report is queued or being retried: skip, it will be delivered."""
    DONE = "done"
    """Reported and acknowledged before: send the stored report again."""


@dataclass(frozen=True, slots=True)
class Claim:
    """The ledger's answer for one delivery; `report` is set for `DONE`."""

    kind: ClaimKind
    report: TaskReport | None = None


_NEW = Claim(ClaimKind.NEW)
_RUNNING = Claim(ClaimKind.RUNNING)
_REPORTING = Claim(ClaimKind.REPORTING)


class TaskLedger:
    """Tracks the tasks of this process: running, reporting, and recently reported.

    Memory is bounded: active tasks are bounded by the runner's concurrency and report
    queue, and acknowledged ones by `max_done` (least recently seen are forgotten).
    Not thread-safe; used from the runner's event loop only.
    """

    def __init__(self, max_done: int) -> None:
        if max_done < 1:
            raise ValueError(f"max_done must be at least 1, got {max_done}")
        self._max_done = max_done
        self._active: dict[str, ClaimKind] = {}
        self._done: OrderedDict[str, bytes] = OrderedDict()

    def claim(self, task_id: str) -> Claim:
        """Record a delivery of `task_id` and say what to do with it."""
        state = self._active.get(task_id)
        if state is ClaimKind.RUNNING:
            return _RUNNING
        if state is ClaimKind.REPORTING:
            return _REPORTING
        stored = self._done.pop(task_id, None)
        if stored is not None:
            # It goes back through the reporter: until acknowledged again it is "reporting".
            self._active[task_id] = ClaimKind.REPORTING
            return Claim(ClaimKind.DONE, TaskReport.model_validate_json(stored))
        self._active[task_id] = ClaimKind.RUNNING
        return _NEW

    def reporting(self, task_id: str) -> None:
        """The task's report is produced and about to be delivered."""
        self._active[task_id] = ClaimKind.REPORTING

    def settled(self, report: TaskReport) -> None:
        """The report was acknowledged (or the control plane no longer knows the task)."""
        self._active.pop(report.task_id, None)
        self._done[report.task_id] = report.to_json()
        self._done.move_to_end(report.task_id)
        while len(self._done) > self._max_done:
            self._done.popitem(last=False)

    def release(self, task_id: str) -> None:
        """Forget an active task whose report will not be delivered by this process."""
        self._active.pop(task_id, None)

    def state(self, task_id: str) -> ClaimKind | None:
        """The task's current state, `None` if unknown; for tests and diagnostics."""
        if task_id in self._active:
            return self._active[task_id]
        return ClaimKind.DONE if task_id in self._done else None

    @property
    def active_count(self) -> int:
        """Tasks running or reporting."""
        return len(self._active)

    @property
    def done_count(self) -> int:
        """Acknowledged tasks remembered."""
        return len(self._done)
