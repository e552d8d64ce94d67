"""The runner: serves apps against the Tempest control plane.

It fetches tasks (`apps.operations.next`) with `next` calls that adapt to the work,
gated by a concurrency limit, runs them through `App.dispatch` with a per-task timeout, deduplicates
redeliveries, reports outcomes until acknowledged (optionally through an on-disk
outbox), reports health on an interval, and shuts down gracefully.

- `Runner(app_or_apps, client, **options)`: `await runner.run()`, `async with runner:`,
  `runner.start_in_thread()`.
- `run(*apps, **options)`: standalone and blocking, with SIGINT/SIGTERM handling
  (what `App.run()` calls).
- `Interceptor` (formerly `RunnerHook`): the one chain around each task (see it
  before dispatch, wrap the handler, see the report before it is sent), and every
  poll and report attempt: audit records, quotas, metrics, tracing.
- `PrometheusMetrics` (the `prometheus` extra) and `OpenTelemetry` (the `otel` extra):
  the runner's metrics and traces, as interceptors. `operations_address=` serves `/livez`,
  `/readyz` and `/metrics`; `Runner.liveness()`/`readiness()` give the same `Probe`s.
- `Backoff`: the pauses between retries (`retry_backoff=`).
- `TaskSource` and its outcome types (`RetryLaterError`, `AccessRefusedError`,
  `RejectedError`, `GoneError`): what any control plane must offer to drive a runner.
"""

from .._backoff import Backoff as Backoff
from .._limits import Limits as Limits
from .._outcomes import AccessRefusedError as AccessRefusedError
from .._outcomes import GoneError as GoneError
from .._outcomes import RejectedError as RejectedError
from .._outcomes import RetryLaterError as RetryLaterError
from .._outcomes import TaskSourceError as TaskSourceError
from ._config import RunnerOptions as RunnerOptions
from ._config import RunnerOptionsKwargs as RunnerOptionsKwargs
from ._config import options_from_env as options_from_env
from ._errors import RunnerConfigError as RunnerConfigError
from ._errors import RunnerStartupError as RunnerStartupError
from ._hooks import InterceptedTask as InterceptedTask
from ._hooks import Interceptor as Interceptor
from ._hooks import ObservedRunner as ObservedRunner
from ._hooks import PollEvent as PollEvent
from ._hooks import PollOutcome as PollOutcome
from ._hooks import ReportEvent as ReportEvent
from ._hooks import ReportOutcome as ReportOutcome
from ._hooks import RunnerHook as RunnerHook
from ._hooks import RunnerSample as RunnerSample
from ._hooks import TaskCall as TaskCall
from ._hooks import TaskInfo as TaskInfo
from ._metrics import PrometheusMetrics as PrometheusMetrics
from ._observe import Probe as Probe
from ._otel import OpenTelemetry as OpenTelemetry
from ._protocols import RunnableApp as RunnableApp
from ._protocols import TaskSource as TaskSource
from ._runner import Runner as Runner
from ._standalone import RunKwargs as RunKwargs
from ._standalone import run as run
from ._thread import RunnerThread as RunnerThread

__all__ = [
    "AccessRefusedError",
    "Backoff",
    "GoneError",
    "InterceptedTask",
    "Interceptor",
    "Limits",
    "ObservedRunner",
    "OpenTelemetry",
    "PollEvent",
    "PollOutcome",
    "Probe",
    "PrometheusMetrics",
    "RejectedError",
    "ReportEvent",
    "ReportOutcome",
    "RetryLaterError",
    "RunKwargs",
    "RunnableApp",
    "Runner",
    "RunnerConfigError",
    "RunnerHook",
    "RunnerOptions",
    "RunnerOptionsKwargs",
    "RunnerSample",
    "RunnerStartupError",
    "RunnerThread",
    "TaskCall",
    "TaskInfo",
    "TaskSource",
    "TaskSourceError",
    "options_from_env",
    "run",
]
