from tempest_sdk.client import (
    AuthenticationError,
    NotFoundError,
    TempestClient,
)
from tempest_sdk.models import TaskReport

# A report of a task that Tempest does not know (any more).
report = TaskReport.error("task-gone", "the deploy failed")

with TempestClient() as client:
    try:
        client.report(report)
    except NotFoundError:
        ...  # the task's lease expired, Tempest forgot it: drop it
    except AuthenticationError as exc:
        raise SystemExit(str(exc)) from None
