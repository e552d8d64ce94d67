"""`run(app)`: serve standalone until SIGINT or SIGTERM (what `app.run()` calls)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Unpack

import anyio

from .._threads import stuck_threads
from ._config import RunnerOptionsKwargs, options_from_env, pool_keywords
from ._errors import RunnerConfigError, RunnerStartupError
from ._log import logger
from ._protocols import RunnableApp, TaskSource
from ._runner import Runner

if TYPE_CHECKING:
    import httpx

    from ..client import AsyncTempestClient, CertTypes, VerifyTypes

__all__ = ["RunKwargs", "run"]


class RunKwargs(RunnerOptionsKwargs, total=False):
    """The keyword arguments of `run` (and `App.run`): the task source, or what builds
    the API client, then the runner's options."""

    client: TaskSource | None
    endpoint: str | None
    token: str | None
    transport: httpx.AsyncBaseTransport | None
    verify: VerifyTypes
    cert: CertTypes


def run(
    *apps: RunnableApp,
    client: TaskSource | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    verify: VerifyTypes = None,
    cert: CertTypes = None,
    **options: Unpack[RunnerOptionsKwargs],
) -> None:
    """Serve `apps` until SIGINT or SIGTERM, then drain and return. Blocks.

    Options not given are read from `TEMPEST_RUNNER_*` variables, then defaulted (see
    `RunnerOptions`). Unless `client` is given, an `AsyncTempestClient` is built from
    `endpoint`, `token`, `transport`, `verify` and `cert` (each as that client takes
    it) or the environment (`TEMPEST_API_ENDPOINT`, `TEMPEST_TOKEN_FILE`,
    `TEMPEST_TOKEN`, `TEMPEST_CA_BUNDLE`, `TEMPEST_CLIENT_CERT`, `TEMPEST_CLIENT_KEY`).

    With `until_idle=True` (or `TEMPEST_RUNNER_UNTIL_IDLE=1`), a one-shot run: it
    stops by itself once no task came for `idle_after` seconds, logs one summary line
    (reports ok and error), and returns when every report was ok and delivered; else
    it raises `SystemExit(1)`.

    The first SIGINT or SIGTERM stops gracefully (see `Runner.shutdown`); a second
    one stops at once. If plain handlers that timed out or were cancelled still run
    in their threads then, the process exits (status 0, or 1 as above) without
    waiting for them, with a warning naming them.

    Logging is the program's unless `log_format` (or `TEMPEST_RUNNER_LOG_FORMAT`) is
    `"text"` or `"json"`: then, if the root logger has no handler yet, `run` adds one
    on stderr with that format and `tempest_sdk.MaskingFilter` (secrets masked in
    every logger's records) and shows the SDK's records from INFO (other libraries'
    from WARNING). Otherwise configure logging first, with a `MaskingFilter` on your
    handlers (see the docs' "Settings and secrets").

    Raises:
        SystemExit: with status 1 and a message saying how to fix it, when the
            options are invalid or the runner cannot start (rejected token,
            unreachable endpoint, missing configuration); with status 1 alone when a
            one-shot run (`until_idle`) reported an error or left a report undelivered.
    """
    try:
        resolved = options_from_env(**options)
        owned: AsyncTempestClient | None = None
        if client is None:
            from ..client import AsyncTempestClient, TempestConfigError

            # The pool follows what the runner may have in flight; a transport given
            # brings its own pool.
            pool = pool_keywords(resolved, len(apps)) if transport is None else {}
            try:
                # Its token is masked wherever the SDK writes, log records included.
                owned = AsyncTempestClient(
                    token,
                    endpoint=endpoint,
                    transport=transport,
                    verify=verify,
                    cert=cert,
                    mask_token=True,
                    **pool,
                )
            except TempestConfigError as exc:
                raise RunnerStartupError(f"cannot build the API client: {exc}") from None
        runner = Runner(apps, client if client is not None else owned, options=resolved)
    except (RunnerConfigError, RunnerStartupError, ValueError, TypeError) as exc:
        raise SystemExit(f"tempest_sdk: {exc}") from None
    _set_up_logging(resolved.log_format)
    started = time.monotonic()
    try:
        anyio.run(_serve, runner, owned)
    except RunnerStartupError as exc:
        raise SystemExit(f"tempest_sdk: {exc}") from None
    code = 1 if runner.options.until_idle and runner.failed else 0
    _exit_past_stuck_threads(started, code)
    if code:
        raise SystemExit(code)


_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def _set_up_logging(log_format: str | None) -> None:
    """Give the process a stderr log handler in `log_format`, unless it has one.

    The standalone runner is a program's entry point, so it may configure logging,
    but only when asked and never over the program's own configuration.
    """
    if log_format is None:
        return
    from .._logjson import JsonLogFormatter
    from .._secrets import MaskingFilter

    root = logging.getLogger()
    if root.handlers:
        if log_format == "json" and not all(
            isinstance(h.formatter, JsonLogFormatter) for h in root.handlers
        ):
            logger.warning(
                "log_format 'json' not applied: logging is already configured; give its "
                "handlers tempest_sdk.JsonLogFormatter() instead"
            )
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT)
    )
    # Every logger's records pass this handler: the app's own, from any thread.
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    sdk = logging.getLogger("tempest_sdk")
    if sdk.level == logging.NOTSET:
        # Task outcomes are INFO; other libraries' INFO (httpx logs every poll) is noise.
        sdk.setLevel(logging.INFO)


def _exit_past_stuck_threads(started: float, code: int) -> None:
    """End the process now if handler threads this run abandoned would keep it alive."""
    stuck = stuck_threads(since=started)
    if not stuck:
        return
    if threading.current_thread() is not threading.main_thread():
        # The process belongs to whoever called run() from a thread: just say so.
        logger.warning(
            "%d handler thread(s) have not returned and run on: %s", len(stuck), "; ".join(stuck)
        )
        return
    logger.warning(
        "exiting without waiting for %d handler thread(s) that have not returned: %s",
        len(stuck),
        "; ".join(stuck),
    )
    # Python cannot stop a thread, and the interpreter waits for every non-daemon
    # thread at exit (anyio's asyncio worker threads are not daemons): a stop would
    # last as long as the slowest stuck handler, forever for one that never returns.
    # The runner has drained and flushed, so end the process here. os._exit skips the
    # exit machinery (atexit hooks included), so flush the logs and streams first.
    # Only the standalone run does this: an embedded runner's process is its host's.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


async def _serve(runner: Runner, owned: AsyncTempestClient | None) -> None:
    try:
        async with anyio.create_task_group() as group:
            if threading.current_thread() is threading.main_thread():
                group.start_soon(_handle_signals, runner)
            try:
                await runner.run()
            except RunnerStartupError as exc:
                failure: RunnerStartupError | None = exc
            else:
                failure = None
            group.cancel_scope.cancel()
        if failure is not None:
            raise failure
    finally:
        if owned is not None:
            await owned.aclose()


async def _handle_signals(runner: Runner) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        received = 0
        async with anyio.create_task_group() as group:
            async for signum in signals:
                received += 1
                name = signal.Signals(signum).name
                if received == 1:
                    logger.warning(
                        "%s received: stopping; running tasks have %.0fs to finish "
                        "(send it again to stop at once)",
                        name,
                        runner.options.shutdown_grace,
                    )
                    group.start_soon(runner.shutdown)
                else:
                    logger.warning("%s received again: stopping at once", name)
                    runner.abort()
                    return
