"""The health loop: each app version's checks, reported at start and then on an interval.

It runs beside task processing and shares nothing with it but the client: a slow
health check never holds a task slot, and a busy runner never delays health.
"""

from __future__ import annotations

import anyio

from ._log import logger
from ._protocols import RunnableApp, TaskSource

__all__ = ["health_loop"]


async def health_loop(
    app: RunnableApp, source: TaskSource, *, interval: float, timeout: float
) -> None:
    """Report `app`'s health now and every `interval` seconds, until cancelled.

    All of the app's checks run concurrently, each under `timeout` (the app's
    `check_health` does that) and their results go out in one `apps.versions.health`
    call. Returns at once if the app has no health checks.
    """
    fields = {"app_id": app.app_id, "app_version": app.version}
    while True:
        started = anyio.current_time()
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
            try:
                await source.report_health(request)
            except Exception as exc:
                logger.warning(
                    "could not report the health of app %s %s: %s; next try in %.0fs",
                    app.app_id,
                    app.version,
                    exc,
                    interval,
                    extra=fields,
                )
            else:
                logger.debug(
                    "reported the health of app %s %s: %s",
                    app.app_id,
                    app.version,
                    ", ".join(f"{item.type}={item.status}" for item in request.health_reports),
                    extra=fields,
                )
        # The interval is measured from the start of a round, so it does not drift
        # by the time checks take.
        await anyio.sleep(max(0.0, started + interval - anyio.current_time()))
