"""The health loop: each app version's checks, reported at start and then on an interval.

It runs beside task processing and shares nothing with it but the client: a slow
health check never holds a task slot, and a busy runner never delays health.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from .._backoff import Backoff
from ..models import AppHealthReportRequest
from ._log import describe_error, logger
from ._protocols import RunnableApp, TaskSource
from ._retry import RetryBudget

__all__ = ["health_loop"]


async def health_loop(
    app: RunnableApp,
    source: TaskSource,
    *,
    interval: float,
    timeout: float,
    backoff: Backoff,
    budget: RetryBudget,
    on_checked: Callable[[AppHealthReportRequest], None] | None = None,
) -> None:
    """Report `app`'s health now and every `interval` seconds, until cancelled.

    All of the app's checks run concurrently, each under `timeout` (the app's
    `check_health` does that) and their results go out in one `apps.versions.health`
    call. A report that fails is tried again by the runner's retry policy (`_retry.py`,
    with the shared `budget`) until it goes through or the next round is due (which
    checks afresh). Returns at once if the app has no health checks. `on_checked`
    gets each round's results (the metrics show them).
    """
    fields = {"app_id": app.app_id, "app_version": app.version}
    while True:
        started = anyio.current_time()
        due = started + interval
        try:
            request = await app.check_health(timeout=timeout)
        except Exception:
            logger.exception(
                "health checks of app %s %s failed unexpectedly",
                app.app_id,
                app.version,
                extra=fields,
            )
        else:
            if request is None:
                logger.debug("app %s %s has no health checks", app.app_id, app.version)
                return
            if on_checked is not None:
                on_checked(request)
            await _deliver(source, request, backoff, budget, due, fields)
        # The interval is measured from the start of a round, so it does not drift
        # by the time checks take.
        await anyio.sleep(max(0.0, due - anyio.current_time()))


async def _deliver(
    source: TaskSource,
    request: AppHealthReportRequest,
    backoff: Backoff,
    budget: RetryBudget,
    due: float,
    fields: dict[str, str],
) -> None:
    """Send one health report, retrying with backoff until it is acknowledged or the
    next round is due."""
    app = f"{request.app_id} {request.version}"
    topic = f"health reports of app {app}"
    retrier = budget.retrier(backoff)
    try:
        while True:
            try:
                # One attempt: this loop is the only retry policy, as for `next` and `report`.
                await source.report_health(request, max_retries=0)
            except Exception as exc:
                budget.failed(
                    topic,
                    exc,
                    "the health report of app %s {failed}",
                    app,
                    fields={**fields, "failures": retrier.failures + 1},
                )
                with anyio.move_on_after(max(0.0, due - anyio.current_time())):
                    await retrier.pause(exc)
                    continue
                logger.warning(
                    "could not report the health of app %s: %s; the next round checks "
                    "and reports afresh",
                    app,
                    describe_error(exc),
                    extra={**fields, "failures": retrier.failures},
                )
                return
            retrier.succeeded(topic)
            logger.debug(
                "reported the health of app %s: %s",
                app,
                ", ".join(f"{item.type}={item.status}" for item in request.health_reports),
                extra=fields,
            )
            return
    finally:
        retrier.close()
