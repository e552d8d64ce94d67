"""The `tempest-sdk` command line: parse arguments, run a command, map errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from textwrap import dedent, indent
from typing import NoReturn

from .._version import __version__
from ._errors import CLIError, StartError, UserCodeError
from ._logs import LOG_FORMAT_ENV, early_log_format, exit_line, set_up_logging, uses_json
from ._options import APP_HELP, full_tracebacks_argument, task_arguments

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from ..emulator import main as emulator_main

        return _quiet_on_closed_stdout(lambda: emulator_main(argv[1:]))
    # From here on every line is in the chosen format, a mistake in the arguments too.
    set_up_logging(early_log_format(argv))
    return _quiet_on_closed_stdout(lambda: _main(argv))


def _main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        exc.report()
        return 2
    if args.command is None:
        parser.print_help()
        return 2
    set_up_logging(_log_format(args), getattr(logging, args.log_level.upper()))
    # `serve --reload` starts its children with the same command line.
    args.argv = argv
    if getattr(args, "full_tracebacks", False):
        # Read where tracebacks are formatted, in this process and any it starts.
        os.environ["TEMPEST_FULL_TRACEBACKS"] = "1"
    try:
        code: int = args.run(args)
    except StartError as exc:
        exit_line(f"tempest_sdk: {exc}", json_message=str(exc))
        return exc.exit_code
    except UserCodeError as exc:
        exit_line(f"error: {exc}", json_message=str(exc), traceback=exc.traceback)
        return exc.exit_code
    except CLIError as exc:
        exit_line(f"error: {exc}", json_message=str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:
        if not uses_json():
            raise
        # A bug of the SDK's: still one line in the chosen format, whole traceback.
        logging.getLogger("tempest_sdk.cli").critical(
            "tempest-sdk failed: an internal error of the SDK (please report it)", exc_info=True
        )
        return 1
    return code


# The exit status of a command whose reader went away, as a shell reports one that a
# SIGPIPE ended (128 + 13): `set -o pipefail` scripts see what they see for `cat`.
_CLOSED_STDOUT = 141


def _quiet_on_closed_stdout(run: Callable[[], int]) -> int:
    """`run()`, ending quietly when stdout's reader has gone (`... | head`).

    The pattern of Python's documentation (signal module, "Note on SIGPIPE"): on
    `BrokenPipeError`, point stdout at devnull, so that the interpreter's final flush
    cannot fail again and print a traceback at exit.
    """
    try:
        try:
            code = run()
        except SystemExit:
            sys.stdout.flush()  # `--help`: what it printed may hit the closed pipe
            raise
        sys.stdout.flush()  # inside the try: what is still buffered may hit the pipe
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return _CLOSED_STDOUT
    return code


class _UsageError(Exception):
    """An argument mistake, raised by `_Parser.error` instead of exiting there."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message

    def report(self) -> None:
        if uses_json():
            exit_line(
                "",
                json_message=f"{self.parser.prog}: {self.message} "
                f"(see '{self.parser.prog} --help')",
            )
            return
        # As argparse writes it.
        self.parser.print_usage(sys.stderr)
        sys.stderr.write(f"{self.parser.prog}: error: {self.message}\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(self, message)


def _log_format(args: argparse.Namespace) -> str:
    given: str | None = getattr(args, "log_format", None)
    if given is None and args.command == "serve":
        # As `run()` reads it, so that the runner finds the format it would set up.
        given = os.environ.get(LOG_FORMAT_ENV, "").strip().lower() or None
    return given or "text"


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    examples: str,
) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="examples:\n" + indent(dedent(examples).strip("\n"), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="how much the SDK logs to stderr (default: warning)",
    )
    return parser


def _endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the Tempest API is, and how to trust it (commands that call it)."""
    parser.add_argument("--endpoint", help="the API endpoint (default: $TEMPEST_API_ENDPOINT)")
    parser.add_argument(
        "--ca-bundle",
        metavar="PATH",
        help="CA certificates to trust, a PEM file or a directory (default: $TEMPEST_CA_BUNDLE)",
    )
    parser.add_argument(
        "--client-cert",
        metavar="PATH",
        help="a client certificate for mutual TLS, PEM (default: $TEMPEST_CLIENT_CERT)",
    )
    parser.add_argument(
        "--client-key",
        metavar="PATH",
        help="its private key, if not in the same file (default: $TEMPEST_CLIENT_KEY)",
    )


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    """`serve --record` and its bounds (each also read from `TEMPEST_RUNNER_RECORD*`)."""
    parser.add_argument(
        "--record",
        metavar="FILE",
        help=(
            "record each served task and its report in FILE, one JSON line each, secrets "
            "masked, for 'tempest-sdk replay' (default: $TEMPEST_RUNNER_RECORD; off)"
        ),
    )
    parser.add_argument(
        "--record-only",
        metavar="FILTER",
        help="with --record: which tasks, e.g. 'errors' or 'type=NAME,operation=create'",
    )
    parser.add_argument(
        "--record-sample",
        type=float,
        metavar="RATE",
        help="with --record: the share of those tasks recorded, e.g. 0.1 (default: 1)",
    )
    parser.add_argument(
        "--record-max-bytes",
        metavar="BYTES",
        help="with --record: rotate FILE at this size, e.g. 64Mi (default: 32Mi)",
    )
    parser.add_argument(
        "--record-files",
        type=int,
        metavar="N",
        help="with --record: files kept, FILE and FILE.1 ... (default: 4)",
    )


def _parser() -> argparse.ArgumentParser:
    # Typed as the base: the commands' parsers are `_Parser`s too, made by add_parser.
    parser: argparse.ArgumentParser = _Parser(
        prog="tempest-sdk",
        description="Describe, test, connect and serve Tempest private apps.",
        epilog="Run 'tempest-sdk COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"tempest-sdk {__version__}")
    parser.set_defaults(command=None, log_level="warning")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = _command(
        sub,
        "describe",
        "show the resource types an app declares",
        """
        tempest-sdk describe examples/helloworld/app.py
        tempest-sdk describe mypackage.app:app --json > connect.json
        """,
    )
    p.add_argument("app", help=APP_HELP)
    p.add_argument("--json", action="store_true", help="print the exact connect payload")
    p.set_defaults(command="describe", run=_run("describe"))

    p = _command(
        sub,
        "connect",
        "connect an app version to Tempest (declares its resource types)",
        """
        TEMPEST_TOKEN=... tempest-sdk connect examples/helloworld/app.py
        tempest-sdk connect mypackage.app --yes
        """,
    )
    p.add_argument("app", help=APP_HELP)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _endpoint_arguments(p)
    p.set_defaults(command="connect", run=_run("connect"))

    p = _command(
        sub,
        "serve",
        "pull tasks for one or more apps and execute them",
        """
        tempest-sdk serve examples/helloworld/app.py --emulator
        tempest-sdk serve examples/helloworld/app.py --emulator --keep-serving
        tempest-sdk serve examples/helloworld/app.py --emulator --reload
        TEMPEST_TOKEN=... tempest-sdk serve mypackage.app --connect --concurrency 32
        TEMPEST_TOKEN=... tempest-sdk serve mypackage.app --once --idle-after 30
        TEMPEST_TOKEN=... tempest-sdk serve mypackage.app --record tasks.jsonl --record-only errors
        """,
    )
    p.add_argument("apps", nargs="+", metavar="app", help=APP_HELP)
    p.add_argument(
        "--emulator",
        action="store_true",
        help="run against the embedded local emulator: one task per capability, then a summary",
    )
    p.add_argument("--tasks", metavar="FILE", help="with --emulator: a JSON file of tasks to run")
    p.add_argument(
        "--keep-serving",
        action="store_true",
        help=(
            "with --emulator: keep the emulator and runner up after the tasks (URL and "
            "token printed), e.g. to call the emulator's API from another client"
        ),
    )
    p.add_argument("--concurrency", type=int, help="tasks in flight at most (default: 16)")
    p.add_argument(
        "--health-interval", type=float, metavar="S", help="seconds between health reports"
    )
    p.add_argument("--task-timeout", type=float, metavar="S", help="default per-task timeout")
    p.add_argument("--outbox", metavar="PATH", help="a folder keeping reports until acknowledged")
    p.add_argument(
        "--operations-address",
        metavar="HOST:PORT",
        help=(
            "serve /livez, /readyz and /metrics there (a port alone: 127.0.0.1 only; "
            "in a container: 0.0.0.0:8081)"
        ),
    )
    p.add_argument("--connect", action="store_true", help="connect each app version first")
    p.add_argument(
        "--once",
        action="store_true",
        help=(
            "a one-shot run (CronJobs, CI, back-fills): stop once the queue is empty, "
            "deliver the reports, exit 0, or 1 when any task failed "
            "(default: $TEMPEST_RUNNER_UNTIL_IDLE)"
        ),
    )
    p.add_argument(
        "--idle-after",
        type=float,
        metavar="S",
        help="with --once: seconds without a task after which the queue counts as empty "
        "(default: $TEMPEST_RUNNER_IDLE_AFTER or 10)",
    )
    _record_arguments(p)
    _endpoint_arguments(p)
    p.add_argument("--json", action="store_true", help="with --emulator: print the results as JSON")
    p.add_argument(
        "--act-on-existing-resources",
        action="store_true",
        help=(
            "with --emulator: also update, delete and run actions on resources that list "
            "returned, which the run did not create. DANGER: the handlers change them in "
            "the external system they call"
        ),
    )
    full_tracebacks_argument(p)
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="how log records are written to stderr: text, or one JSON object a line "
        "(default: $TEMPEST_RUNNER_LOG_FORMAT or text)",
    )
    p.add_argument(
        "--reload",
        action="store_true",
        help=(
            "restart on changes to the app's files (.py, .json, .yaml), letting running "
            "tasks finish first; needs the 'reload' extra (watchfiles)"
        ),
    )
    p.add_argument(
        "--otel",
        action="store_true",
        help=(
            "trace tasks with OpenTelemetry, exported as the OTEL_* variables say "
            "(default: $TEMPEST_RUNNER_OTEL, or on when OTEL_TRACES_EXPORTER is set); "
            "needs opentelemetry-sdk"
        ),
    )
    p.add_argument("--reload-child", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(command="serve", run=_run("serve"))

    p = _command(
        sub,
        "health",
        "run an app's health checks once, locally, inside its lifespan",
        """
        tempest-sdk health examples/helloworld/app.py
        tempest-sdk health mypackage.app:app --json
        """,
    )
    p.add_argument("app", help=APP_HELP)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds each check may take")
    p.add_argument("--json", action="store_true", help="print the health report as JSON")
    full_tracebacks_argument(p)
    p.set_defaults(command="health", run=_run("health"))

    p = _command(
        sub,
        "invoke",
        "run one operation or action through dispatch, locally, without network",
        """
        tempest-sdk invoke examples/helloworld/app.py example create --input '{"color": "blue"}'
        tempest-sdk invoke examples/helloworld/app.py example read --external-id example-1
        tempest-sdk invoke app.py dashboard create --input @input.json --secret API_KEY=abc
        """,
    )
    p.add_argument("app", help=APP_HELP)
    p.add_argument("type", help="the resource type")
    p.add_argument(
        "name",
        metavar="operation_or_action",
        help="create, read, update, delete, list or an action",
    )
    task_arguments(p)
    full_tracebacks_argument(p)
    p.set_defaults(command="invoke", run=_run("invoke"))

    p = _command(
        sub,
        "compare",
        "show what changed between two app versions, flagging breaking changes",
        """
        tempest-sdk compare old/app.py new/app.py
        tempest-sdk compare old/app.py new/app.py --json --fail-on-breaking
        """,
    )
    p.add_argument("old", help=APP_HELP)
    p.add_argument("new", help=APP_HELP)
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.add_argument("--fail-on-breaking", action="store_true", help="exit 1 if any change breaks")
    p.set_defaults(command="compare", run=_run("compare"))

    p = _command(
        sub,
        "init",
        "create a new app project that passes its own tests",
        """
        tempest-sdk init my-app
        tempest-sdk init my-app --directory ~/src/my-app
        """,
    )
    p.add_argument("name", help="the app id, e.g. 'my-app'")
    p.add_argument("--directory", help="where to create it (default: ./NAME)")
    p.set_defaults(command="init", run=_run("init"))

    from ._enqueue import add_enqueue_command

    add_enqueue_command(sub, _command)

    from ._replay import add_replay_command

    add_replay_command(sub, _command)

    # Listed here for the overview; `main` hands its arguments to the emulator's own parser.
    sub.add_parser("emulator", help="run the local emulator of the Tempest control plane")
    return parser


def _run(command: str) -> object:
    # Each command's module is imported only when it runs, to keep `--help` fast.
    def run(args: argparse.Namespace) -> int:
        from ._commands import run_command

        return run_command(command, args)

    return run
