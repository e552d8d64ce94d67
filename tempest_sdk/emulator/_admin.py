"""The admin endpoint: enqueue tasks into a running emulator from another process.

It lives outside the contract's paths, under `/_emulator/`, behind the same bearer
token as the rest, and only ever on the emulator's own loopback server. It answers
only requests whose `Host` is a loopback name or address (`403` otherwise), so that
a web page cannot reach it through DNS rebinding:

- `POST /_emulator/tasks` with `{"app_id", "version", "task", "metadata"?, "task_id"?}`
  (`task` as `apps.operations.next` hands it out) enqueues it, as `Emulator.enqueue`
  does, and answers `201` with the task's status;
- `GET /_emulator/tasks/{task_id}` answers the task's status: `state` (`queued`,
  `leased` or `reported`), `deliveries` and every report received.

Admin requests are not app traffic: they count in no `request_counts`, never meet an
injected fault and are no contract violations.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote

from ._answer import Answer, json_answer
from ._shape import describe_value
from ._tasks import build_answer
from ._validation import APP_ID_PATTERN, VERSION_PATTERN

if TYPE_CHECKING:
    from ._core import Core
    from ._state import TaskRecord

__all__ = ["ADMIN_PREFIX", "TASKS_PATH", "handle_admin", "is_loopback_host", "task_status"]

logger = logging.getLogger("tempest_sdk.emulator")

ADMIN_PREFIX: Final = "/_emulator/"
TASKS_PATH: Final = "/_emulator/tasks"

_FIELDS: Final = ("app_id", "version", "task", "metadata", "task_id")
_ROUTES: Final = f"POST {TASKS_PATH} or GET {TASKS_PATH}/<task_id>"


def handle_admin(
    core: Core, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Answer:
    """Answer one request to the admin endpoint (`path` starts with `ADMIN_PREFIX`)."""
    host = headers.get("host")
    if not is_loopback_host(host):
        return _error(403, _refused_host(host))
    raw_id = path[len(TASKS_PATH) + 1 :] if path.startswith(TASKS_PATH + "/") else ""
    task_id = unquote(raw_id)
    if path == TASKS_PATH:
        allowed = "POST"
    elif raw_id and "/" not in raw_id:
        allowed = "GET"
    else:
        return _error(404, f"no admin endpoint {path!r}: {_ROUTES}")
    if method != allowed and not (allowed == "GET" and method == "HEAD"):
        allow = "GET, HEAD" if allowed == "GET" else allowed
        return _error(405, f"{path} takes {allowed}, not {method}", [("allow", allow)])
    denied = core.auth_problem(headers.get("authorization"))
    if denied:
        return _error(401, denied, [("www-authenticate", "Bearer")])
    if allowed == "GET":
        with core.lock:
            core.store.expire(core.clock())
            record = core.store.tasks.get(task_id)
            if record is None:
                return _error(404, f"no task {task_id!r} was enqueued on this emulator")
            return json_answer(200, task_status(record))
    return _enqueue(core, headers, body)


def is_loopback_host(host: str | None) -> bool:
    """Whether a `Host` header names this machine's loopback: `localhost`, an address
    in 127.0.0.0/8 or `[::1]`, with or without a port.

    A browser sends the name it resolved: a page whose own name was made to resolve
    to 127.0.0.1 (DNS rebinding) reaches the port with that name in `Host`, never a
    loopback one, and is refused.
    """
    if not host:
        return False
    name = host.strip()
    if name.startswith("["):
        name, bracket, rest = name[1:].partition("]")
        if not bracket or (rest and not _is_port(rest)):
            return False
    else:
        head, colon, port = name.rpartition(":")
        if colon:
            if not _is_port(colon + port):
                return False
            name = head
    if name.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and len(text) <= 6


def _refused_host(host: str | None) -> str:
    said = f"Host {host[:80]!r}" if host else "no Host header"
    return (
        f"the admin endpoint answers only requests addressed to this machine's loopback "
        f"(Host: 127.0.0.1, localhost or [::1], with a port or not); this one came with "
        f"{said}. A web page whose name resolves to 127.0.0.1 (DNS rebinding) is refused; "
        "call the emulator by the URL it printed"
    )


def task_status(record: TaskRecord) -> dict[str, Any]:
    """What the admin endpoint says about a task (never its input or variables)."""
    return {
        "task_id": record.task_id,
        "app_id": record.app_id,
        "version": record.version,
        "request_type": record.request_type,
        "state": record.state,
        "deliveries": record.deliveries,
        "reports": copy.deepcopy(record.reports),
    }


def _enqueue(core: Core, headers: Mapping[str, str], body: bytes) -> Answer:
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        return _error(415, "send the task as JSON, with 'Content-Type: application/json'")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return _error(400, f"the request body is not JSON: {exc.msg} at line {exc.lineno}")
    except UnicodeDecodeError:
        return _error(400, "the request body is not JSON: it is not UTF-8")
    problem = _request_problem(data)
    if problem:
        return _error(400, f"cannot enqueue this task: {problem}")
    app_id, version, task_id = data["app_id"], data["version"], data.get("task_id")
    with core.lock:
        taken = task_id is not None and task_id in core.store.tasks
    if taken:
        return _error(409, f"task id {task_id!r} is already used: leave task_id out for a new one")
    try:
        answer = build_answer(task_id or core.new_id(), data["task"], data.get("metadata"))
        task_id = core.enqueue(app_id, version, answer)
    except ValueError as exc:
        return _error(400, str(exc))
    logger.info("emulator: task %s enqueued for %s %s (admin endpoint)", task_id, app_id, version)
    with core.lock:
        status = task_status(core.store.tasks[task_id])
    return json_answer(201, status, [("location", f"{TASKS_PATH}/{quote(task_id, safe='')}")])


def _request_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return 'the body must be a JSON object: {"app_id", "version", "task"}'
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        return f"unknown field {unknown[0]!r}: the body takes {', '.join(_FIELDS)}"
    for name in ("app_id", "version", "task"):
        if name not in data:
            return f"{name}: missing; the body takes app_id, version and task (required)"
    if not isinstance(data["app_id"], str) or not APP_ID_PATTERN.fullmatch(data["app_id"]):
        return (
            f"app_id: expected an app id like 'my-app' (lowercase letters, digits and '-', "
            f"as apps declare it), got {_show(data['app_id'])}"
        )
    if not isinstance(data["version"], str) or not VERSION_PATTERN.fullmatch(data["version"]):
        return f"version: expected a version like 'v1', got {_show(data['version'])}"
    if not isinstance(data["task"], dict):
        return "task: expected an object (the task as apps.operations.next hands it out)"
    if data.get("metadata") is not None and not isinstance(data["metadata"], dict):
        return "metadata: expected an object (owners, author, project_id, project_name)"
    task_id = data.get("task_id")
    if task_id is not None and (not isinstance(task_id, str) or not task_id.strip()):
        return "task_id: expected a non-empty string, or no task_id for a fresh one"
    return None


def _show(value: Any) -> str:
    return repr(value[:60]) if isinstance(value, str) else describe_value(value)


def _error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    return json_answer(status, {"status": "error", "error": message}, headers)
