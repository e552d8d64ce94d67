"""`tempest-sdk serve`: against Tempest, or exercising apps on the embedded emulator."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from ._errors import CLIError, StartError
from ._inputs import client_tls
from ._load import load_app
from ._logs import notice
from ._steps import plan_steps, print_results, run_with_progress
from ._term import Out

if TYPE_CHECKING:
    from .. import App

__all__ = [
    "client_tls",
    "runner_options",
    "serve",
]


def serve(args: argparse.Namespace) -> int:
    """Run `tempest-sdk serve` and return its exit code."""
    if args.reload_child:
        return _serve_reload_child(args)
    if not args.emulator:
        if args.tasks or args.keep_serving or args.json or args.act_on_existing_resources:
            raise CLIError(
                "--tasks, --keep-serving, --json and --act-on-existing-resources go with --emulator"
            )
    elif args.once:
        raise CLIError("--once does not go with --emulator, which stops by itself after its tasks")
    elif args.endpoint or args.ca_bundle or args.client_cert or args.client_key:
        raise CLIError(
            "--endpoint, --ca-bundle, --client-cert and --client-key do not go with "
            "--emulator, which serves its own endpoint on loopback"
        )
    if args.once and args.reload:
        raise CLIError("--once does not go with --reload, which serves until stopped")
    if args.reload:
        # The user's code is imported by the children only, never here.
        from ._reload import supervise

        return supervise(args)
    apps = _load_apps(args)
    options = runner_options(args)
    _show_summary()
    with _tracing(args, apps, options):
        if not args.emulator:
            return _run_standalone(apps, endpoint=args.endpoint, **client_tls(args), **options)
        try:
            return anyio.run(functools.partial(_serve_on_emulator, apps, args, options))
        except Exception as exc:
            failure = _start_failure(exc)
            if failure is None:
                raise
            raise StartError(str(failure)) from None


@contextlib.contextmanager
def _tracing(
    args: argparse.Namespace, apps: Sequence[App], options: dict[str, Any]
) -> Iterator[None]:
    """OpenTelemetry for the run when asked (`--otel`, `TEMPEST_RUNNER_OTEL`,
    `OTEL_TRACES_EXPORTER`): its hook in `options`, its spans flushed at the end."""
    from ._tracing import set_up_tracing, tracing_wanted

    if not tracing_wanted(args.otel):
        yield
        return
    tracing = set_up_tracing(apps)
    options["hooks"] = [*options.get("hooks", ()), tracing.hook]
    try:
        yield
    finally:
        tracing.shutdown()


def _show_summary() -> None:
    """Show the line a one-shot run ends with (`--once`, `TEMPEST_RUNNER_UNTIL_IDLE`)
    at the default log level too: the rest of the SDK's INFO records stay hidden."""
    from ..runner._log import SUMMARY_LOGGER

    if logging.getLogger().getEffectiveLevel() <= logging.WARNING:
        logging.getLogger(SUMMARY_LOGGER).setLevel(logging.INFO)


def _run_standalone(apps: Sequence[App], **options: Any) -> int:
    """`runner.run(*apps, **options)` and its exit code (1: a one-shot run had failed
    tasks), its exit message raised as a `StartError`, so that the command line writes
    it in the chosen log format."""
    from ..runner import run

    try:
        run(*apps, **options)
    except SystemExit as exc:
        if isinstance(exc.code, int):
            return exc.code
        if not isinstance(exc.code, str):
            raise
        raise StartError(exc.code.removeprefix("tempest_sdk: ")) from None
    return 0


def _start_failure(exc: BaseException) -> Exception | None:
    """The runner's start failure or configuration error in `exc`, even inside a group."""
    from ..runner import RunnerConfigError, RunnerStartupError

    if isinstance(exc, RunnerStartupError | RunnerConfigError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _start_failure(inner)
            if found is not None:
                return found
    return None


def _load_apps(args: argparse.Namespace) -> list[App]:
    apps = [load_app(ref) for ref in args.apps]
    seen: set[tuple[str, str]] = set()
    for app in apps:
        if (app.app_id, app.version) in seen:
            raise CLIError(f"{app.app_id} {app.version} is given twice; serve each version once")
        seen.add((app.app_id, app.version))
    return apps


def _serve_reload_child(args: argparse.Namespace) -> int:
    """Serve as a child of `serve --reload`: load, say so, and serve once told to.

    With `--emulator` the supervisor owns the emulator and puts its address and
    token in this process's environment.
    """
    from ._reload import wait_for_go

    apps = _load_apps(args)
    if not wait_for_go(apps):
        return 0
    options = runner_options(args)
    with _tracing(args, apps, options):
        if args.emulator:
            _run_standalone(apps, **{**options, "connect": True})
        else:
            _run_standalone(apps, endpoint=args.endpoint, **client_tls(args), **options)
    return 0


def runner_options(args: argparse.Namespace) -> dict[str, Any]:
    """The runner options `serve`'s flags set (the others come from the environment)."""
    given = {
        "concurrency": args.concurrency,
        "health_interval": args.health_interval,
        "task_timeout": args.task_timeout,
        "outbox": args.outbox,
        "operations_address": args.operations_address,
        "record": args.record,
        "record_only": args.record_only,
        "record_sample": args.record_sample,
        "record_max_bytes": _bytes(args.record_max_bytes, "--record-max-bytes"),
        "record_files": args.record_files,
        # Only when given: without the flag, TEMPEST_RUNNER_CONNECT still decides.
        "connect": True if args.connect else None,
        "until_idle": True if args.once else None,
        "idle_after": args.idle_after,
    }
    return {name: value for name, value in given.items() if value is not None}


def _bytes(raw: str | None, flag: str) -> int | None:
    """A size in bytes as `TEMPEST_RUNNER_*_BYTES` takes it: `1048576`, `64Ki`, `32Mi`."""
    if raw is None:
        return None
    from ..runner._config import _env_bytes
    from ..runner._errors import RunnerConfigError

    try:
        return _env_bytes(flag, raw)
    except RunnerConfigError:
        raise CLIError(f"{flag} {raw!r} is not a number of bytes (e.g. 33554432, 32Mi)") from None


async def _serve_on_emulator(
    apps: Sequence[App], args: argparse.Namespace, options: dict[str, Any]
) -> int:
    from ..emulator import Emulator
    from ..runner import Runner

    steps = plan_steps(args, apps)
    out = Out()
    emulator = Emulator()
    async with emulator.serve():
        client = emulator.client()
        # The emulator is on loopback: idle polls cost nothing, and a pause of up to
        # 5 s between one step's report and the next step's task would be most of
        # the run's time.
        quick = {"poll_interval_min": 0.01, "poll_interval_max": 0.05}
        runner = Runner(list(apps), client=client, **{**quick, **options, "connect": True})
        async with client, runner:
            names = ", ".join(f"{a.app_id} {a.version}" for a in apps)
            if not args.json:
                out.line(f"Serving {names} against the local emulator at {emulator.url}")
                out.line()
            results = await run_with_progress(
                emulator, steps, apps=apps, act_on_existing=args.act_on_existing_resources
            )
            print_results(out, results, json_output=args.json)
            if args.keep_serving:
                from ._enqueue import enqueue_hint

                notice(
                    f"Still serving. Emulator: {emulator.url}  token: {emulator.token}\n"
                    "Enqueue more tasks from another terminal, e.g.:\n"
                    f"  {enqueue_hint(emulator.url, emulator.token, apps)}\n"
                    "Press Ctrl-C to stop.\n"
                )
                await anyio.sleep_forever()
    return 1 if any(r.failed for r in results) else 0
