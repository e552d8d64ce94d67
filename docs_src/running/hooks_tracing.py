from opentelemetry import trace

from tempest_sdk.models import TaskReport
from tempest_sdk.runner import InterceptedTask, Interceptor, TaskCall

tracer = trace.get_tracer("myapp")


class Tracing(Interceptor):
    async def intercept_task(
        self, task: InterceptedTask, call_next: TaskCall
    ) -> TaskReport:
        info = task.info
        with tracer.start_as_current_span(f"{info.kind} {info.name}") as span:
            span.set_attribute("tempest.task_id", info.task_id)
            report = await call_next()
            span.set_attribute("tempest.status", report.status)
            return report
