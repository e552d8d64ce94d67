"""`tempest-sdk replay`: run recorded tasks against an app again and compare the reports.

Exit codes: 0 when every replayed report matches the recorded one, 1 when any differs,
2 on bad input (no such file, a line that cannot be read, a masked secret not given,
a filter that selects nothing, nothing left to replay without --writes).

Creates, updates, deletes and actions change the systems their handlers call: they are
replayed only with `--writes`, and listed as skipped otherwise.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from ._errors import CLIError
from ._options import APP_HELP, full_tracebacks_argument

if TYPE_CHECKING:
    from ..testing import Comparison
    from ._term import Out

__all__ = ["add_replay_command", "replay"]

_EXAMPLES: Final = """
tempest-sdk replay tasks.jsonl examples/helloworld/app.py
tempest-sdk replay tasks.jsonl app.py --only errors --secret API_KEY=test-key --writes
tempest-sdk replay tasks.jsonl app.py --only type=dashboard,operation=create --json
tempest-sdk replay tasks.jsonl app.py --ignore response.resource.properties.updated_at
"""


def add_replay_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register `replay` on the `tempest-sdk` parser (`command` adds the common options)."""
    p = command(
        sub,
        "replay",
        "run recorded tasks (serve --record) against an app again and compare the reports",
        _EXAMPLES,
    )
    p.add_argument("file", help="a record file written by 'serve --record'")
    p.add_argument("app", help=APP_HELP)
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FILTER",
        help=(
            "replay only these tasks: errors, status=ok|error, type=NAME, "
            "operation=NAME, action=NAME, kind=KIND, task=ID (comma-separated: all must hold)"
        ),
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="the value of a variable, replacing the recorded one (masked or not)",
    )
    p.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="NAME[=VALUE|=@FILE]",
        help=(
            "the value of a secret recorded masked: NAME=VALUE, NAME=@FILE or NAME (from "
            "the environment); masked secrets not given are read from the environment"
        ),
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PATH",
        help=(
            "a report field not to compare, dotted ('message', "
            "'response.resource.properties.updated_at'; '*' for any key or item); "
            "task_id is never compared"
        ),
    )
    p.add_argument(
        "--writes",
        action="store_true",
        help=(
            "also replay creates, updates, deletes and actions: their handlers change the "
            "systems they call (point the app at a test system first); default: reads "
            "and lists only"
        ),
    )
    p.add_argument("--json", action="store_true", help="print the comparisons as JSON")
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="report a line that cannot be read and replay the others (exit 2 still)",
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="seconds each task may run"
    )
    full_tracebacks_argument(p)
    p.set_defaults(command="replay", run=replay)


def replay(args: argparse.Namespace) -> int:
    """Run `tempest-sdk replay` and return its exit code."""
    import functools

    import anyio

    from .._recordings import RecordingError
    from ..testing import areplay
    from ._commands import _within_lifespan
    from ._inputs import pairs, secrets_of
    from ._load import load_app
    from ._term import Out

    if not args.timeout > 0:
        raise CLIError(f"--timeout must be a number of seconds above 0, got {args.timeout}")
    env, secrets = pairs(args.env, "--env"), secrets_of(args.secret)
    app = load_app(args.app)
    call = functools.partial(
        areplay,
        args.file,
        app,
        secrets=secrets,
        env=env,
        only=args.only or None,
        ignore=args.ignore,
        keep_going=args.keep_going,
        timeout=args.timeout,
        writes=args.writes,
    )
    try:
        results = anyio.run(_within_lifespan, app, call)
    except (RecordingError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    # The tasks' secrets left the process with them: masked by value here.
    out = Out(secrets=[*secrets.values(), *env.values()])
    if args.json:
        out.json(
            {
                "app_id": app.app_id,
                "version": app.version,
                "file": args.file,
                "summary": _summary(results),
                "comparisons": [r.to_json() for r in results],
            }
        )
    else:
        _print(out, app.app_id, app.version, results)
    if any(r.status == "unreadable" for r in results):
        return 2
    if all(r.status == "skipped" for r in results):
        return 2
    return 1 if any(r.status == "differs" for r in results) else 0


def _summary(results: Sequence[Comparison]) -> dict[str, int]:
    counts = {"replayed": 0, "match": 0, "differs": 0, "unreadable": 0, "skipped": 0}
    for r in results:
        counts[r.status] += 1
        counts["replayed"] += r.status in ("match", "differs")
    return counts


def _statuses(r: Comparison) -> str:
    """The report's status, recorded then now when they differ: `error → ok`."""
    if r.recorded is None or r.replayed is None:
        return "-"
    before, now = str(r.recorded.status), str(r.replayed.status)
    return before if before == now else f"{before} → {now}"


def _print(out: Out, app_id: str, version: str, results: Sequence[Comparison]) -> None:
    versions = sorted({r.recorded_version for r in results if r.recorded_version})
    if versions and versions != [version]:
        out.line(f"Replaying tasks recorded by {app_id} {', '.join(versions)} against {version}")
        out.line()
    colours = {"match": "green", "differs": "red", "unreadable": "yellow", "skipped": "dim"}
    out.table(
        ["LINE", "TASK", "WHAT", "REPORT", "RESULT"],
        [
            [
                str(r.line),
                r.task_id or "-",
                r.subject.describe() if r.subject is not None else "-",
                _statuses(r),
                out.style(r.status, colours[r.status]),
            ]
            for r in results
        ],
    )
    for r in results:
        if r.problem:
            out.line()
            out.line(out.style(r.problem, "yellow"))
        elif r.diff:
            out.line()
            what = r.subject.describe() if r.subject is not None else ""
            out.line(out.style(f"line {r.line}: task {r.task_id} ({what})", "bold"))
            for text in r.diff.splitlines():
                colour = "red" if text.startswith("-") else "green" if text.startswith("+") else ""
                out.line(out.style(text, colour) if colour else text)
    summary = _summary(results)
    parts = [f"{summary['replayed']} replayed", f"{summary['match']} match"]
    if summary["differs"]:
        parts.append(f"{summary['differs']} differ")
    if summary["unreadable"]:
        parts.append(f"{summary['unreadable']} unreadable")
    if summary["skipped"]:
        parts.append(
            f"{summary['skipped']} skipped (they change data: replay them with --writes "
            "once the app points at a test system)"
        )
    ignored = ", ".join(results[0].ignored) if results else "task_id"
    out.line()
    bad = summary["differs"] or summary["unreadable"] or not summary["replayed"]
    out.line(out.style(", ".join(parts), "red" if bad else "green", "bold"))
    out.line(out.style(f"not compared: {ignored}", "dim"))
