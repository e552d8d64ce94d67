from opentelemetry import trace

from tempest_sdk.models import TaskReport
from tempest_sdk.runner import RunnerHook, TaskCall, TaskInfo

tracer = trace.get_tracer("myapp")


class Tracing(RunnerHook):
    async def around_task(
        self, task: TaskInfo, call_next: TaskCall
    ) -> TaskReport:
        with tracer.start_as_current_span(f"{task.kind} {task.name}") as span:
            span.set_attribute("tempest.task_id", task.task_id)
            report = await call_next()
            span.set_attribute("tempest.status", report.status)
            return report
