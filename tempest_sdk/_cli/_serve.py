"""`tempest-sdk serve`: against Tempest, or exercising apps on the embedded emulator."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from ._errors import CLIError
from ._load import load_app
from ._term import Out

if TYPE_CHECKING:
    from .. import App
    from ..testing import StepResult

__all__ = ["client_tls", "serve"]


def client_tls(args: argparse.Namespace) -> dict[str, Any]:
    """`verify=` and `cert=` for the API client from `--ca-bundle`, `--client-cert` and
    `--client-key`; what is not given is left to the client's environment defaults."""
    if args.client_key and not args.client_cert:
        raise CLIError("--client-key goes with --client-cert")
    tls: dict[str, Any] = {}
    if args.ca_bundle:
        tls["verify"] = args.ca_bundle
    if args.client_cert:
        tls["cert"] = (args.client_cert, args.client_key) if args.client_key else args.client_cert
    return tls


def serve(args: argparse.Namespace) -> int:
    """Run `tempest-sdk serve` and return its exit code."""
    apps = [load_app(ref) for ref in args.apps]
    seen: set[tuple[str, str]] = set()
    for app in apps:
        if (app.app_id, app.version) in seen:
            raise CLIError(f"{app.app_id} {app.version} is given twice; serve each version once")
        seen.add((app.app_id, app.version))
    options = _runner_options(args)
    if not args.emulator:
        if args.tasks or args.keep_serving or args.json or args.act_on_existing_resources:
            raise CLIError(
                "--tasks, --keep-serving, --json and --act-on-existing-resources go with --emulator"
            )
        from ..runner import run

        run(*apps, connect=args.connect, endpoint=args.endpoint, **client_tls(args), **options)
        return 0
    if args.endpoint or args.ca_bundle or args.client_cert or args.client_key:
        raise CLIError(
            "--endpoint, --ca-bundle, --client-cert and --client-key do not go with "
            "--emulator, which serves its own endpoint on loopback"
        )
    return anyio.run(functools.partial(_serve_on_emulator, apps, args, options))


def _runner_options(args: argparse.Namespace) -> dict[str, Any]:
    given = {
        "concurrency": args.concurrency,
        "health_interval": args.health_interval,
        "task_timeout": args.task_timeout,
        "outbox": args.outbox,
    }
    return {name: value for name, value in given.items() if value is not None}


async def _serve_on_emulator(
    apps: Sequence[App], args: argparse.Namespace, options: dict[str, Any]
) -> int:
    from ..emulator import Emulator
    from ..runner import Runner
    from ..testing import default_steps, load_steps, run_steps

    try:
        steps = (
            load_steps(args.tasks, apps)
            if args.tasks
            else [s for a in apps for s in default_steps(a)]
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    out = Out()
    emulator = Emulator()
    async with emulator.serve():
        client = emulator.client()
        async with client, Runner(list(apps), client=client, connect=True, **options):
            names = ", ".join(f"{a.app_id} {a.version}" for a in apps)
            if not args.json:
                out.line(f"Serving {names} against the local emulator at {emulator.url}")
                out.line()
            results = await run_steps(
                emulator, steps, apps=apps, act_on_existing=args.act_on_existing_resources
            )
            _print_results(out, results, json_output=args.json)
            if args.keep_serving:
                sys.stderr.write(
                    f"Still serving. Emulator: {emulator.url}  token: {emulator.token}\n"
                    "Its Tempest API answers other clients; new tasks cannot be enqueued "
                    "from another process yet. Press Ctrl-C to stop.\n"
                )
                await anyio.sleep_forever()
    return 1 if any(r.failed for r in results) else 0


def _print_results(out: Out, results: Sequence[StepResult], *, json_output: bool) -> None:
    if json_output:
        out.json([r.to_json() for r in results])
        return
    colours = {"ok": "green", "error": "red", "skipped": "yellow"}
    out.table(
        ["TASK", "STATUS", "DURATION", "WAIT", "MESSAGE"],
        [
            [
                r.step.label,
                out.style(r.status, colours.get(r.status, "red")),
                f"{r.duration * 1000:.1f} ms",
                f"{r.wait * 1000:.1f} ms",
                _short(r.message),
            ]
            for r in results
        ],
    )
    ok = sum(r.ok for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = sum(r.failed for r in results)
    out.line()
    summary = f"{ok}/{len(results)} tasks reported ok"
    if skipped:
        summary += f", {skipped} skipped"
    if failed:
        summary += f", {failed} failed"
    out.line(out.style(summary, "red" if failed else "green", "bold"))


def _short(message: str, width: int = 60) -> str:
    line = " ".join(message.split())
    return line if len(line) <= width else line[: width - 1] + "…"
