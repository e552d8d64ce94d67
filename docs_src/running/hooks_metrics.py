from prometheus_client import Counter, Histogram

from tempest_sdk.models import TaskReport
from tempest_sdk.runner import (
    InterceptedTask,
    Interceptor,
    PollEvent,
    ReportEvent,
    TaskCall,
)

from .tempest_app import app

TASKS = Counter(
    "myapp_tasks_total", "Tasks run", ["app", "kind", "name", "status"]
)
SECONDS = Histogram("myapp_task_seconds", "Task duration", ["app", "kind"])
POLLS = Counter("myapp_polls_total", "next calls", ["app", "outcome"])
REPORTS = Counter(
    "myapp_report_attempts_total", "report attempts", ["outcome"]
)


class Metrics(Interceptor):
    async def intercept_task(
        self, task: InterceptedTask, call_next: TaskCall
    ) -> TaskReport:
        info = task.info
        with SECONDS.labels(info.app_id, info.kind).time():
            report = await call_next()
        TASKS.labels(info.app_id, info.kind, info.name, report.status).inc()
        return report

    async def on_poll(self, event: PollEvent) -> None:
        POLLS.labels(event.app_id, event.outcome).inc()

    async def on_report(self, event: ReportEvent) -> None:
        REPORTS.labels(event.outcome).inc()


if __name__ == "__main__":
    app.run(hooks=[Metrics()])
