"""The task queues: FIFO per app version, leases, redelivery and reports.

Not thread-safe by itself: the emulator calls it with its one lock held.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["TaskRecord", "TaskState", "TaskStore"]

TaskState = Literal["queued", "leased", "reported"]
"""Where a task is: waiting in its queue, handed out and awaiting a report, or reported."""


@dataclass(slots=True, eq=False)
class TaskRecord:
    """One enqueued task and everything that happened to it."""

    task_id: str
    app_id: str
    version: str
    seq: int
    request_type: str
    answer: dict[str, Any]
    body: bytes
    state: TaskState = "queued"
    deliveries: int = 0
    reports: list[dict[str, Any]] = field(default_factory=list)
    # On the emulator's clock: enqueued, last handed out, first reported.
    queued_at: float = 0.0
    leased_at: float | None = None
    reported_at: float | None = None


class TaskStore:
    """Every task of an emulator, with one FIFO queue per app id and version.

    A queue is a heap on the enqueue order, so a task whose lease expires goes back
    to its original place: ahead of the tasks enqueued after it.
    """

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        self._queues: dict[tuple[str, str], list[tuple[int, str]]] = {}
        # (deadline, seq, task id, delivery number): stale entries are skipped on expiry.
        self._leases: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self.reported_order: list[str] = []
        self.duplicate_reports = 0

    def add(self, task_id: str, app_id: str, version: str, answer: dict[str, Any]) -> TaskRecord:
        """Enqueue a task (its `next` answer, already checked) at the end of its queue."""
        if task_id in self.tasks:
            raise ValueError(f"task id {task_id!r} is already used")
        self._seq += 1
        record = TaskRecord(
            task_id=task_id,
            app_id=app_id,
            version=version,
            seq=self._seq,
            request_type=answer["task"]["request_type"],
            answer=answer,
            body=json.dumps(answer, separators=(",", ":")).encode(),
        )
        self.tasks[task_id] = record
        heapq.heappush(self._queues.setdefault((app_id, version), []), (record.seq, task_id))
        return record

    def expire(self, now: float) -> list[TaskRecord]:
        """Put back every task whose lease ran out without a report; return them."""
        expired = []
        while self._leases and self._leases[0][0] <= now:
            _, _, task_id, delivery = heapq.heappop(self._leases)
            record = self.tasks[task_id]
            if record.state == "leased" and record.deliveries == delivery:
                record.state = "queued"
                heapq.heappush(self._queues[(record.app_id, record.version)], (record.seq, task_id))
                expired.append(record)
        return expired

    def lease(self, app_id: str, version: str, deadline: float) -> TaskRecord | None:
        """Hand out the first queued task of an app version until `deadline`."""
        queue = self._queues.get((app_id, version))
        while queue:
            _, task_id = heapq.heappop(queue)
            record = self.tasks[task_id]
            if record.state != "queued":
                continue  # reported while it waited for redelivery
            record.state = "leased"
            record.deliveries += 1
            heapq.heappush(self._leases, (deadline, record.seq, task_id, record.deliveries))
            return record
        return None

    def report(self, record: TaskRecord, report: dict[str, Any]) -> bool:
        """Record a report; return whether it is the task's first."""
        record.reports.append(report)
        if len(record.reports) > 1:
            self.duplicate_reports += 1
            return False
        record.state = "reported"
        self.reported_order.append(record.task_id)
        return True

    def in_state(self, state: TaskState) -> list[str]:
        """Ids of the tasks in `state`, in enqueue order (reported ones: in report order)."""
        if state == "reported":
            return list(self.reported_order)
        # Dicts keep insertion order, which is the enqueue order.
        return [r.task_id for r in self.tasks.values() if r.state == state]
