"""An audit trail: one JSON line per task, saying who asked for what and how
it ended, with every secret of the task masked."""

from __future__ import annotations

import json
import logging
import time

import tempest_sdk as tempest
from tempest_sdk import InterceptedTask, Interceptor
from tempest_sdk.models import TaskReport
from tempest_sdk.runner import TaskCall

audit_log = logging.getLogger("notes.audit")

app = tempest.App("notes", "v1")
note = app.resource(
    "note",
    display_name="Note",
    description="A note.",
    properties={"type": "object"},
)


@note.create
async def create(ctx: tempest.Context) -> tempest.Resource:
    ctx.env.secret("API_KEY")  # what a real handler would call its API with
    return tempest.Resource(external_id="n-1", display_name="A note")


class Audit(Interceptor):
    """Writes one record per task, after its handler ran."""

    async def intercept_task(
        self, task: InterceptedTask, call_next: TaskCall
    ) -> TaskReport:
        started = time.perf_counter()
        report = await call_next()
        record = {
            "task_id": task.info.task_id,
            "app": f"{task.info.app_id} {task.info.version}",
            "task": task.info.subject.describe(),
            "author": task.metadata.author.email,
            "project": task.metadata.project_id,
            "status": str(report.status),
            "message": report.message,
            "seconds": round(time.perf_counter() - started, 3),
            # The request as Tempest sent it: input and environment.
            "request": task.request.to_wire(),
        }
        # Secret variables keep their names; their values are masked.
        audit_log.info("%s", json.dumps(task.mask_data(record)))
        return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    app.run(hooks=[Audit()])
