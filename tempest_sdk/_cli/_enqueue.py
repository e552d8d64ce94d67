"""`tempest-sdk enqueue`: put a task into a running emulator's queue from another process.

It builds the task with the emulator's public task builders and posts it to the
emulator's admin endpoint (`POST /_emulator/tasks`); with `--wait` it polls
`GET /_emulator/tasks/{id}` until the task is reported, and prints the report.
It talks to a local emulator only: `--url` must be a loopback address.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

from ._errors import CLIError
from ._inputs import pairs, read_input, secrets_of
from ._options import check_applies, task_arguments

if TYPE_CHECKING:
    import httpx

    from .. import App

__all__ = ["add_enqueue_command", "enqueue", "enqueue_hint"]

_LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")
_OPERATIONS: Final = ("create", "read", "update", "delete")
_TASKS: Final = "/_emulator/tasks"
# Polling a loopback emulator is cheap; the delay grows so a long task costs few requests.
_FIRST_POLL, _MAX_POLL = 0.05, 0.5

_EXAMPLES: Final = """
tempest-sdk enqueue --url http://127.0.0.1:8900/api/v1 --token dev-token \\
    --app helloworld --version v1 operation create --type example --input '{"color": "blue"}'
tempest-sdk enqueue --url ... --token ... --app helloworld --version v1 \\
    action rebuild --type example --external-id ex-1 --wait
tempest-sdk enqueue --url ... --token ... --app helloworld --version v1 list --type example --wait
"""


class _Failed(CLIError):
    """The emulator could not be reached, or the task failed or never got a report."""

    exit_code = 1


def add_enqueue_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[..., argparse.ArgumentParser],
) -> None:
    """Register `enqueue` on the `tempest-sdk` parser (`command` adds the common options)."""
    p = command(sub, "enqueue", "enqueue a task into a running local emulator", _EXAMPLES)
    p.add_argument(
        "kind",
        choices=["operation", "action", "list"],
        metavar="KIND",
        help="operation NAME (create, read, update, delete), action NAME, or list",
    )
    p.add_argument(
        "name",
        nargs="?",
        help="for operation: create, read, update or delete; for action: its name",
    )
    p.add_argument(
        "--url",
        required=True,
        help="the emulator's URL as it printed it, e.g. http://127.0.0.1:8900/api/v1",
    )
    p.add_argument("--token", required=True, help="the emulator's token, as it prints it")
    p.add_argument("--app", required=True, help="the app id whose queue gets the task")
    p.add_argument("--version", required=True, help="the app version, e.g. v1")
    p.add_argument(
        "--type", required=True, dest="resource_type", metavar="TYPE", help="the resource type"
    )
    task_arguments(p)
    p.add_argument("--wait", action="store_true", help="wait for the report, print it")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="with --wait: seconds to wait for the report (default: 60)",
    )
    p.set_defaults(command="enqueue", run=enqueue)


def enqueue(args: argparse.Namespace) -> int:
    """Run `tempest-sdk enqueue`: print the new task's id, or with `--wait` its report;
    exit 1 when the report is an error (or none came in time)."""
    import httpx

    root = _root_url(args.url)
    _check_options(args)
    task = _build_task(
        args,
        input=read_input(args.input),
        env=pairs(args.env, "--env"),
        secrets=secrets_of(args.secret),
    )
    headers = {"authorization": f"Bearer {args.token}"}
    # trust_env=False: a loopback emulator is never reached through a proxy from the env.
    with httpx.Client(base_url=root, headers=headers, timeout=10.0, trust_env=False) as http:
        body = {"app_id": args.app, "version": args.version, "task": task}
        status = _call(http, "POST", _TASKS, json=body)
        task_id: str = status["task_id"]
        if not args.wait:
            sys.stdout.write(task_id + "\n")
            return 0
        sys.stderr.write(f"Enqueued task {task_id}; waiting for its report...\n")
        sys.stderr.flush()
        report = _wait_for_report(http, task_id, args)
    from ._term import Out

    Out().json(report)
    return 0 if report.get("status") == "ok" else 1


def enqueue_hint(url: str, token: str, apps: Sequence[App]) -> str:
    """The exact `tempest-sdk enqueue` command for a task of the first app, for messages.

    It names a list task when the first resource type lists (nothing changes), else a
    create (the handler makes something new).
    """
    command = f"tempest-sdk enqueue --url {url} --token {token}"
    if not apps:
        return command + " --app APP --version V list --type TYPE --wait"
    app = apps[0]
    command += f" --app {app.app_id} --version {app.version}"
    resources = app.describe().resources
    if not resources:
        return command + " list --type TYPE --wait"
    first = resources[0]
    kind = "list" if first.list_supported or not first.create_supported else "operation create"
    return command + f" {kind} --type {first.type} --wait"


def _root_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise CLIError(f"--url {url!r} is not a URL: {exc}") from None
    if parts.scheme != "http" or host not in _LOOPBACK:
        raise CLIError(
            f"--url must be a local emulator's address, like http://127.0.0.1:8900/api/v1 "
            f"(got {parts.scheme or 'no scheme'}://{host or ''}): enqueue talks to the "
            "local emulator only, never to Tempest"
        )
    if port is None:
        raise CLIError(f"--url {url!r} has no port: give the port the emulator printed")
    return f"http://{parts.netloc}"


def _check_options(args: argparse.Namespace) -> None:
    if args.kind == "list" and args.name is not None:
        raise CLIError(f"list takes no name (got {args.name!r}): enqueue ... list --type TYPE")
    if args.kind == "action" and not args.name:
        raise CLIError("action needs the action's name: enqueue ... action NAME --type TYPE")
    if args.kind == "operation" and args.name not in _OPERATIONS:
        got = f" (got {args.name!r})" if args.name else ""
        raise CLIError(f"operation needs one of {', '.join(_OPERATIONS)}{got}")
    # The same rules as `invoke`'s, so that no option is silently ignored.
    name = "list" if args.kind == "list" else args.name
    check_applies(args, name, action=args.kind == "action")
    if args.timeout is not None and not args.wait:
        raise CLIError("--timeout goes with --wait")
    if args.timeout is not None and not args.timeout > 0:
        raise CLIError(f"--timeout must be a number of seconds above 0, got {args.timeout}")


def _build_task(
    args: argparse.Namespace,
    *,
    input: dict[str, Any] | None,
    env: dict[str, str],
    secrets: dict[str, str],
) -> dict[str, Any]:
    from ..emulator import action_request, environment_of, list_request, operation_request

    if args.kind == "list":
        return list_request(args.resource_type, args.next)
    build = action_request if args.kind == "action" else operation_request
    return build(
        args.resource_type,
        args.name,
        external_id=args.external_id,
        input=input,
        environment_variables=environment_of(env, secrets),
    )


def _call(http: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    import httpx

    where = f"{http.base_url}{path}"
    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise _Failed(
            f"cannot reach the emulator at {http.base_url}: {exc}. Is it running "
            "(tempest-sdk emulator, or serve --emulator --keep-serving)?"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.is_success and isinstance(data, dict):
        return data
    message = data.get("error") if isinstance(data, dict) else None
    if response.status_code == 401:
        raise CLIError(f"the emulator refused the token: {message} (pass the token it printed)")
    if response.status_code == 404 and path == _TASKS:
        raise CLIError(f"no emulator admin endpoint at {where}: is --url an emulator's URL?")
    if response.status_code in (400, 409):
        raise CLIError(f"the emulator refused the task: {message}")
    raise _Failed(f"{method} {where} answered {response.status_code}: {message or response.text}")


def _wait_for_report(http: httpx.Client, task_id: str, args: argparse.Namespace) -> dict[str, Any]:
    timeout = args.timeout if args.timeout is not None else 60.0
    deadline = time.monotonic() + timeout
    delay = _FIRST_POLL
    path = f"{_TASKS}/{quote(task_id, safe='')}"
    while True:
        status = _call(http, "GET", path)
        if status["state"] == "reported":
            report: dict[str, Any] = status["reports"][0]
            return report
        if time.monotonic() >= deadline:
            raise _Failed(
                f"no report for task {task_id} within {timeout:g} s: it is {status['state']} "
                f"(handed out {status['deliveries']} times). Is an app serving "
                f"{args.app} {args.version} against this emulator?"
            )
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 1.5, _MAX_POLL)
