"""The commands behind `tempest-sdk`. Each takes the parsed arguments, returns an exit code."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._secrets import active_values
from ..models import ConnectRequest, ResourceDefinition
from ._compare import compare as compare_payloads
from ._errors import CLIError, UserCodeError
from ._inputs import client_tls, pairs, read_input, secrets_of
from ._load import load_app
from ._options import check_applies, is_action
from ._scaffold import scaffold
from ._term import Out

if TYPE_CHECKING:
    from .._app import App

__all__ = ["compare", "connect", "describe", "init", "invoke", "serve"]

_T = TypeVar("_T")

_FLAG_COLUMNS = ("read", "list", "create", "update", "delete", "healthcheck")


def describe(args: argparse.Namespace) -> int:
    """Print the resource types of an app, or its exact connect payload with --json."""
    payload = load_app(args.app).describe()
    out = Out()
    if args.json:
        out.json(payload.to_wire())
    else:
        _print_payload(out, payload)
    return 0


def health(args: argparse.Namespace) -> int:
    """Run every health check of an app once, inside its lifespan; exit 1 unless all
    are healthy, 2 when the app has none."""
    import anyio

    app = load_app(args.app)
    if not args.timeout > 0:
        raise CLIError(f"--timeout must be a number of seconds above 0, got {args.timeout}")

    async def check() -> Any:
        # The lifespan's secrets leave the process with it: kept for the output.
        return await app.check_health(timeout=args.timeout), active_values()

    report, known = anyio.run(_within_lifespan, app, check)
    if report is None:
        raise CLIError(f"{app.app_id} {app.version} declares no health check")
    out = Out(secrets=known)
    if args.json:
        out.json(report.to_wire())
    else:
        colours = {"healthy": "green", "degraded": "yellow"}
        out.table(
            ["TYPE", "STATUS", "MESSAGE"],
            [
                [
                    item.type,
                    out.style(str(item.status), colours.get(str(item.status), "red")),
                    item.message or "",
                ]
                for item in report.health_reports
            ],
        )
    return 0 if all(str(item.status) == "healthy" for item in report.health_reports) else 1


def _print_payload(out: Out, payload: ConnectRequest) -> None:
    count = len(payload.resources)
    out.line(
        f"{out.style(payload.app_id, 'bold')} {payload.version} · "
        f"{count} resource type{'s' if count != 1 else ''}"
    )
    if not payload.resources:
        return
    out.line()
    yes, no = out.style("yes", "green"), out.style("-", "dim")
    out.table(
        ["TYPE", "READ", "LIST", "CREATE", "UPDATE", "DELETE", "HEALTH", "ACTIONS"],
        [
            [
                r.type,
                *(yes if getattr(r, f"{flag}_supported") else no for flag in _FLAG_COLUMNS),
                ", ".join(str(a.name) for a in r.actions or []) or no,
            ]
            for r in payload.resources
        ],
    )
    for r in payload.resources:
        out.line()
        _print_definition(out, r)


def _print_definition(out: Out, r: ResourceDefinition) -> None:
    out.line(f"{out.style(r.type, 'bold', 'cyan')}: {r.display_name} ({r.lifecycle_stage})")
    out.line(f"  {r.description}")
    for action in r.actions or []:
        label = action.display_name or action.name
        out.line(
            f"  action {action.name}: {label}"
            + (f" · {action.description}" if action.description else "")
        )
    for link in (r.links.links or []) if r.links else []:
        out.line(f"  link ({link.type}): {link.title} <{link.url}>")
    if r.instructions_markdown:
        lines = r.instructions_markdown.strip().splitlines()
        first = lines[0] if lines else ""
        more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
        out.line(f"  instructions: {first}{more}")


def connect(args: argparse.Namespace) -> int:
    """Show what will be connected, ask, connect, print the app's Tempest URL."""
    from ..client import TempestClient

    app = load_app(args.app)
    payload = app.describe()
    out = Out()
    with TempestClient(endpoint=args.endpoint, **client_tls(args)) as client:
        out.line(f"Connecting to {client.endpoint}:")
        _print_payload(out, payload)
        out.line()
        if not args.yes and not _confirm(f"Connect {payload.app_id} {payload.version}?"):
            out.line("Not connected.")
            return 1
        answer = client.connect_app_version(payload)
    url = answer.metadata.tempest_app_url if answer.metadata else None
    out.line(f"Connected {payload.app_id} {payload.version}." + (f" {url}" if url else ""))
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise CLIError("cannot ask for confirmation without a terminal: pass --yes to connect")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def compare(args: argparse.Namespace) -> int:
    """Print the differences between two app versions."""
    old, new = load_app(args.old).describe(), load_app(args.new).describe()
    changes = compare_payloads(old, new)
    breaking = sum(c.breaking for c in changes)
    out = Out()
    if args.json:
        out.json(
            {
                "old": {"app_id": old.app_id, "version": old.version},
                "new": {"app_id": new.app_id, "version": new.version},
                "breaking": breaking,
                "changes": [c.to_json() for c in changes],
            }
        )
    elif not changes:
        out.line(f"No changes between {old.version} and {new.version}.")
    else:
        out.line(
            f"{old.app_id} {old.version} → {new.app_id} {new.version}: "
            f"{len(changes)} change{'s' if len(changes) != 1 else ''}, {breaking} breaking"
        )
        out.table(
            ["", "WHERE", "CHANGE"],
            [
                [out.style("BREAKING", "red", "bold") if c.breaking else "", c.where, c.what]
                for c in changes
            ],
        )
    return 1 if breaking and args.fail_on_breaking else 0


def init(args: argparse.Namespace) -> int:
    """Create a new app project."""
    directory = Path(args.directory or args.name)
    files = scaffold(args.name, directory)
    out = Out()
    out.line(f"Created {args.name} in {directory}:")
    for path in files:
        out.line(f"  {path}")
    package = args.name.replace("-", "_")
    out.line()
    out.line("Next:")
    out.line(f"  cd {directory}")
    out.line('  pip install -e ".[test]"')
    out.line(f"  tempest-sdk serve {package}/app.py --emulator")
    out.line("  python -m pytest")
    return 0


def invoke(args: argparse.Namespace) -> int:
    """Run one handler through dispatch and print the report."""
    import anyio

    from ..testing import ainvoke

    check_applies(args, args.name, action=is_action(args.name))
    app = load_app(args.app)
    input = read_input(args.input)
    env, secrets = pairs(args.env, "--env"), secrets_of(args.secret)

    async def call() -> Any:
        return await ainvoke(
            app,
            args.type,
            args.name,
            input=input,
            external_id=args.external_id,
            next=args.next,
            env=env,
            secrets=secrets,
        )

    report = anyio.run(_within_lifespan, app, call)
    # The task's secrets left the process with the task: masked by name here.
    Out(secrets=secrets.values()).json(report.to_wire())
    return 0 if report.status == "ok" else 1


def serve(args: argparse.Namespace) -> int:
    """Serve apps against Tempest, or exercise them against the embedded emulator."""
    from ._serve import serve as serve_apps

    return serve_apps(args)


async def _within_lifespan(app: App, call: Callable[[], Awaitable[_T]]) -> _T:
    """`call()` inside the app's lifespan; a lifespan that fails to start or to end is
    the user's code failing, said so with their frames only."""
    from .._tracebacks import handler_traceback

    def failed(exc: Exception, when: str) -> UserCodeError:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return UserCodeError(
            f"the lifespan of app {app.app_id} {app.version} failed while {when}: {what}",
            handler_traceback(exc),
        )

    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(app.serving())
        except Exception as exc:
            raise failed(exc, "starting") from None
        result = await call()
        try:
            await stack.aclose()
        except Exception as exc:
            raise failed(exc, "ending") from None
    return result


def run_command(command: str, args: argparse.Namespace) -> int:
    """Run the command named `command` (one of this module's commands)."""
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "compare": compare,
        "connect": connect,
        "describe": describe,
        "health": health,
        "init": init,
        "invoke": invoke,
        "serve": serve,
    }
    return commands[command](args)
