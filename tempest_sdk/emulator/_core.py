"""The emulator's one core: an HTTP request in, an answer out, all state behind one lock.

The socket server and the in-process httpx transport both call `Core.handle`; they
only differ in how they carry bytes, wait (injected latency) and drop connections.
Requests under `/_emulator/` go to the admin endpoint (`_admin.py`), which enqueues
through `Core.enqueue` like `Emulator.enqueue` does.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from ..models import MalformedTaskError, parse_task
from ._answer import Answer
from ._faults import Fault, FaultSet, malformed_body
from ._openapi import OPENAPI_PATH, openapi_document
from ._state import TaskRecord, TaskStore
from ._tasks import contract_problems
from ._validation import ENDPOINT_MODELS, BodyError, check_body

__all__ = ["ENDPOINTS", "IN_PROCESS_ROOT", "Answer", "Core", "Violation"]

logger = logging.getLogger("tempest_sdk.emulator")

ENDPOINTS: Final = tuple(ENDPOINT_MODELS)
"""The endpoint names of the contract: its paths without the leading slash."""

# The root of `url` when not serving: port 0 never answers, so a client that forgets
# the in-process transport fails at once instead of reaching anything.
IN_PROCESS_ROOT: Final = "http://127.0.0.1:0"

_JSON: Final = ("content-type", "application/json")
_LISTED: Final = {
    "resources.list": "resources",
    "projects.list": "projects",
    "recipes.list": "recipes",
}
_FETCHED: Final = {
    "resources.get": "resources",
    "projects.get": "projects",
    "recipes.get": "recipes",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """A request the emulator rejected because it breaks the contract.

    Attributes:
        endpoint: the endpoint it was sent to, e.g. `"apps.operations.report"`.
        message: the `error` text of the 400 answer.
        problems: one `path: expected X, got Y` line per problem.
    """

    endpoint: str
    message: str
    problems: tuple[str, ...] = ()


@dataclass(slots=True)
class _Seeded:
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = getattr(self, kind)
        return result


AdminHandler = Callable[["Core", str, str, Mapping[str, str], bytes], Answer]
"""Answers a request of the admin API: `(core, method, path, headers, body)`."""


# repr=False: the default repr would show the token.
@dataclass(eq=False, kw_only=True, repr=False)
class Core:
    """State and request handling of one emulator. Thread-safe: one lock guards it all.

    `admin` is the admin API's prefix and handler (the emulator's `_admin`), given by
    whoever builds the core: requests under that prefix go there.
    """

    token: str
    base_path: str
    lease_timeout: float
    rng: random.Random
    clock: Callable[[], float]
    page_size: int
    admin: tuple[str, AdminHandler] | None = None
    root_url: str = field(default=IN_PROCESS_ROOT, init=False)
    store: TaskStore = field(default_factory=TaskStore, init=False)
    faults: FaultSet = field(default_factory=FaultSet, init=False)
    seeded: _Seeded = field(default_factory=_Seeded, init=False)
    connects: list[dict[str, Any]] = field(default_factory=list, init=False)
    health_reports: list[dict[str, Any]] = field(default_factory=list, init=False)
    request_counts: Counter[tuple[str, int]] = field(default_factory=Counter, init=False)
    violations: list[Violation] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        # Notified whenever a report, connect or health report arrives.
        self.changed = threading.Condition(self.lock)
        self._requests = 0
        self._prefix = self.base_path + "/"

    # -- state changes that do not come from the contract's endpoints -------------------

    def new_id(self, prefix: str = "") -> str:
        """A fresh id from the emulator's random source (reproducible with `seed=`)."""
        with self.lock:
            value = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        return f"{prefix}_{value.hex[:12]}" if prefix else str(value)

    def enqueue(self, app_id: str, version: str, answer: dict[str, Any]) -> str:
        """Check a `next` answer (`build_answer`) against the contract and queue its task.

        Raises:
            ValueError: the task breaks the contract (the message says where), or the
                task id is taken.
        """
        problems = contract_problems(answer)
        if problems:
            raise ValueError("cannot enqueue this task: " + "; ".join(problems))
        try:
            parse_task(answer)
        except MalformedTaskError as exc:  # pragma: no cover - the shape check comes first
            raise ValueError(f"cannot enqueue this task: {exc}") from None
        with self.lock:
            record = self.store.add(answer["task_id"], app_id, version, answer)
            record.queued_at = self.clock()
        return record.task_id

    def record(self, task_id: str) -> TaskRecord:
        """The record of an enqueued task; the caller holds the lock.

        Raises:
            KeyError: no such task was enqueued.
        """
        record = self.store.tasks.get(task_id)
        if record is None:
            raise KeyError(f"no task {task_id!r} was enqueued on this emulator")
        return record

    # -- the request path -------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one HTTP request.

        Args:
            method: the HTTP method.
            target: the request target (path, optionally with a query string).
            headers: request headers; looked up by lowercase name.
            body: the request body.
        """
        try:
            return self._handle(method, target, headers, body)
        except Exception:
            # A bug of the emulator's: answer 500 (a client sees it, a test fails on it)
            # rather than dropping the connection, and log it where logging is set up.
            logger.exception("emulator: failed to answer %s %s", method, target.partition("?")[0])
            body = json.dumps(
                {"status": "error", "error": "the emulator failed on this request: see its log"}
            ).encode()
            return Answer(500, [_JSON], body)

    def _handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Answer:
        path = target.partition("?")[0]
        if self.admin is not None and path.startswith(self.admin[0]):
            return self.admin[1](self, method, path, headers, body)
        endpoint = path[len(self._prefix) :] if path.startswith(self._prefix) else ""
        if endpoint == OPENAPI_PATH and method == "GET":
            return Answer(200, [_JSON], json.dumps(openapi_document(self.base_path)).encode())
        with self.lock:
            self._requests += 1
            request_id = f"emu-{self._requests:06d}"
            if endpoint not in ENDPOINT_MODELS:
                message = f"no endpoint {path!r}: POST to {self._prefix}<endpoint>, one of " + (
                    ", ".join(ENDPOINTS)
                )
                return self._error(endpoint or path, 404, message, request_id)
            fault = self.faults.pick(endpoint, self.rng, malformed=False)
            if fault is not None:
                if fault.drop == "before":
                    self.request_counts[(endpoint, 0)] += 1
                    return Answer(0, [], b"", delay=fault.latency, drop=True)
                if fault.status is not None:
                    return self._fault_answer(endpoint, fault, fault.status, request_id)
        if method != "POST":
            return self._locked_error(
                endpoint,
                405,
                f"{endpoint} takes POST, not {method}",
                request_id,
                fault,
                extra=[("allow", "POST")],
            )
        denied = self.auth_problem(headers.get("authorization"))
        if denied:
            return self._locked_error(
                endpoint, 401, denied, request_id, fault, extra=[("www-authenticate", "Bearer")]
            )
        try:
            _check_content_type(headers.get("content-type"))
            data = check_body(endpoint, body)
        except BodyError as exc:
            with self.lock:
                return self._violation(endpoint, list(exc.problems), request_id, fault)
        with self.lock:
            return self._route(endpoint, data, request_id, fault)

    def auth_problem(self, header: str | None) -> str | None:
        """Why an `Authorization` header is refused, or None when it carries the token."""
        # Never echo what was sent: it may be a real token.
        if not header:
            return "missing bearer token: send the header 'Authorization: Bearer <token>'"
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return "the Authorization header must be 'Bearer <token>'"
        if not hmac.compare_digest(credentials.strip().encode(), self.token.encode()):
            return "invalid bearer token: it is not the emulator's token"
        return None

    def _route(
        self, endpoint: str, data: dict[str, Any], request_id: str, fault: Fault | None
    ) -> Answer:
        if endpoint == "apps.operations.next":
            return self._next(data, request_id, fault)
        if endpoint == "apps.operations.report":
            return self._report(data, request_id, fault)
        if endpoint == "apps.version.connect":
            self.connects.append(data)
            self.changed.notify_all()
            app_id, version = data["app_id"], data["version"]
            kinds = len(data["resources"])
            logger.info("emulator: %s %s connected", app_id, version)
            return self._ok(
                endpoint,
                request_id,
                fault,
                {
                    "status": "ok",
                    "message": f"connected {app_id} {version} with {kinds} resource types",
                    "metadata": {"tempest_app_url": f"{self.root_url}/apps/{app_id}/{version}"},
                },
            )
        if endpoint == "apps.versions.health":
            self.health_reports.append(data)
            self.changed.notify_all()
            return self._ok(endpoint, request_id, fault, {"status": "ok"})
        if endpoint in _FETCHED:
            return self._get(endpoint, _FETCHED[endpoint], data["id"], request_id, fault)
        return self._list(endpoint, _LISTED[endpoint], data.get("next"), request_id, fault)

    def _next(self, data: dict[str, Any], request_id: str, fault: Fault | None) -> Answer:
        now = self.clock()
        self.store.expire(now)
        record = self.store.lease(data["app_id"], data["version"], now + self.lease_timeout)
        if record is None:
            return self._answer(
                "apps.operations.next", 204, b"", request_id, fault, json_body=False
            )
        record.leased_at = now
        body = record.body
        if fault is None:
            fault = self.faults.pick("apps.operations.next", self.rng, malformed=True)
            if fault is not None and fault.malformed is not None:
                body = malformed_body(fault.malformed, record.answer, record.body)
        return self._answer("apps.operations.next", 200, body, request_id, fault)

    def _report(self, data: dict[str, Any], request_id: str, fault: Fault | None) -> Answer:
        endpoint = "apps.operations.report"
        task_id = data["task_id"]
        record = self.store.tasks.get(task_id)
        if record is None:
            return self._error(endpoint, 404, f"task {task_id!r} not found", request_id, fault)
        problem = _kind_problem(record, data)
        if problem:
            return self._violation(endpoint, [problem], request_id, fault)
        first = self.store.report(record, data)
        if first:
            record.reported_at = self.clock()
        self.changed.notify_all()
        if not first:
            logger.info("emulator: duplicate report for task %s", task_id)
        message = "report recorded" if first else "duplicate report recorded"
        return self._ok(endpoint, request_id, fault, {"status": "ok", "message": message})

    def _get(
        self, endpoint: str, kind: str, id: str, request_id: str, fault: Fault | None
    ) -> Answer:
        found = self.seeded.of(kind).get(id)
        if found is None:
            return self._error(endpoint, 404, f"{kind[:-1]} {id!r} not found", request_id, fault)
        return self._ok(endpoint, request_id, fault, found)

    def _list(
        self, endpoint: str, kind: str, cursor: str | None, request_id: str, fault: Fault | None
    ) -> Answer:
        offset = _decode_cursor(kind, cursor) if cursor else 0
        if offset is None:
            problem = (
                f"next: expected a cursor from a previous {endpoint} page (or none for the "
                "first page), got a string that is not one"
            )
            return self._violation(endpoint, [problem], request_id, fault)
        items = list(self.seeded.of(kind).values())
        end = offset + self.page_size
        page: dict[str, Any] = {kind: items[offset:end]}
        if kind == "resources":
            page = {"response_type": "list_resources", **page}
        page["next"] = _encode_cursor(kind, end) if end < len(items) else ""
        return self._ok(endpoint, request_id, fault, page)

    # -- answers (callers hold the lock) ------------------------------------------------

    def _ok(self, endpoint: str, request_id: str, fault: Fault | None, payload: Any) -> Answer:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return self._answer(endpoint, 200, body, request_id, fault)

    def _answer(
        self,
        endpoint: str,
        status: int,
        body: bytes,
        request_id: str,
        fault: Fault | None,
        *,
        json_body: bool = True,
        extra: list[tuple[str, str]] | None = None,
    ) -> Answer:
        delay = fault.latency if fault is not None else 0.0
        if fault is not None and fault.drop == "after":
            self.request_counts[(endpoint, 0)] += 1
            return Answer(0, [], b"", delay=delay, drop=True)
        self.request_counts[(endpoint, status)] += 1
        headers = [_JSON] if json_body else []
        headers.append(("x-request-id", request_id))
        if extra:
            headers += extra
        return Answer(status, headers, body, delay=delay)

    def _error(
        self,
        endpoint: str,
        status: int,
        message: str,
        request_id: str,
        fault: Fault | None = None,
        *,
        extra: list[tuple[str, str]] | None = None,
    ) -> Answer:
        body = json.dumps({"status": "error", "error": message}, separators=(",", ":")).encode()
        return self._answer(endpoint, status, body, request_id, fault, extra=extra)

    def _locked_error(
        self,
        endpoint: str,
        status: int,
        message: str,
        request_id: str,
        fault: Fault | None,
        *,
        extra: list[tuple[str, str]] | None = None,
    ) -> Answer:
        with self.lock:
            return self._error(endpoint, status, message, request_id, fault, extra=extra)

    def _violation(
        self, endpoint: str, problems: list[str], request_id: str, fault: Fault | None
    ) -> Answer:
        error = BodyError(problems)
        message = f"invalid {endpoint} request: {error}"
        self.violations.append(Violation(endpoint, message, error.problems))
        logger.warning("emulator: %s", message)
        return self._error(endpoint, 400, message, request_id, fault)

    def _fault_answer(self, endpoint: str, fault: Fault, status: int, request_id: str) -> Answer:
        message = fault.message or f"injected fault: {status} {_phrase(status)}"
        extra = []
        if fault.retry_after is not None:
            extra.append(("retry-after", _seconds(fault.retry_after)))
        if status == 401:
            extra.append(("www-authenticate", "Bearer"))
        body = json.dumps({"status": "error", "error": message}, separators=(",", ":")).encode()
        self.request_counts[(endpoint, status)] += 1
        headers = [_JSON, ("x-request-id", request_id), *extra]
        return Answer(status, headers, body, delay=fault.latency)


def _check_content_type(value: str | None) -> None:
    media = (value or "").partition(";")[0].strip().lower()
    if media != "application/json":
        got = repr(value[:60]) if value else "nothing"
        raise BodyError([f"Content-Type header: expected 'application/json', got {got}"])


def _kind_problem(record: TaskRecord, report: dict[str, Any]) -> str | None:
    response = report.get("response")
    kind = record.request_type
    if report["status"] == "error":
        if response is not None:
            return "response: expected null (status is 'error'), got an object"
        return None
    if response is None:
        return f"response: expected a {kind!r} response (status is 'ok'), got null"
    if response["response_type"] != kind:
        return (
            f"response.response_type: expected {kind!r} (task {record.task_id!r} is a "
            f"{kind} task), got {response['response_type']!r}"
        )
    return None


def _encode_cursor(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode()


def _decode_cursor(kind: str, cursor: str) -> int | None:
    try:
        name, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(offset) if name == kind and int(offset) >= 0 else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _seconds(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
