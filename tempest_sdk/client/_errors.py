"""The exceptions of the API client, and how an HTTP answer becomes one.

```
TempestError                         (tempest_sdk: the root of every SDK error)
├── TempestConfigError               no token, unreadable token file, bad endpoint or option
└── APIError                         a call to the control plane failed (.endpoint, .attempts)
    ├── APIConnectionError           no answer: refused, reset, DNS, broken connection
    │   ├── APITimeoutError          no answer in time
    │   │   └── APIAttemptTimeoutError   an attempt took longer than attempt_timeout in all
    │   └── APITLSError              the server's (or this client's) certificate was refused
    ├── APIResponseTooLargeError     an answer over max_response_size (.limit)
    ├── APIResponseValidationError   a 2xx answer the SDK cannot read (.status_code, .body)
    └── APIStatusError               a non-2xx answer (.status_code, .error, .body, .request_id)
        ├── RequestRejectedError     a 4xx the same request would get again (413, 422, ...)
        │   └── BadRequestError      400
        ├── AuthenticationError      401
        ├── PermissionDeniedError    403
        ├── NotFoundError            404
        ├── RateLimitError           429 (.retry_after)
        └── InternalServerError      5xx
```

The classes also derive from the runner's outcome types (`tempest_sdk._outcomes`):
connection failures, 5xx and 429 are `RetryLaterError`, 401 and 403 `AccessRefusedError`,
404 `GoneError`, other 4xx and oversized answers `RejectedError`.

`next_task` also lets `tempest_sdk.models.MalformedTaskError` (and its subclass
`UnknownTaskTypeError`) through: a task that cannot be read is the runner's to report.

No message or attribute ever holds the API token: server text quoted in an error
(its message, `.error`, `.body`) is first cleared of every token the client sent, in
every encoding `tempest_sdk._secrets.scrub` knows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from .._errors import TempestError
from .._outcomes import (
    AccessRefusedError,
    GoneError,
    RejectedError,
    RetryLaterError,
    TaskSourceError,
)
from .._secrets import scrub, scrub_data

# Server text quoted in a message is cut here, so one odd answer cannot flood a log.
_QUOTE_LIMIT = 500

_TOKEN_ADVICE = "set a valid one with TEMPEST_TOKEN, TEMPEST_TOKEN_FILE or token="


class TempestConfigError(TempestError):
    """The client cannot be built as configured (missing token, bad endpoint, bad option)."""


class APIError(TaskSourceError):
    """A call to the Tempest API failed.

    Attributes:
        endpoint: the contract path that was called, e.g. `/apps.operations.next`.
        attempts: how many times the call was sent before giving up.
    """

    def __init__(self, message: str, *, endpoint: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.attempts = attempts


class APIConnectionError(APIError, RetryLaterError):
    """No answer came back: the connection failed or broke before a response arrived."""

    fix: ClassVar[str | None] = (
        "check that Tempest is reachable from here (network, firewall, proxy variables) "
        "and that TEMPEST_API_ENDPOINT is right"
    )


class APITimeoutError(APIConnectionError):
    """No answer came back in time (connect, read, write or pool timeout)."""


class APIAttemptTimeoutError(APITimeoutError):
    """An attempt took longer than the client's `attempt_timeout` in all (connecting,
    sending and reading the whole answer), although no single phase timed out: an
    answer trickling in, say. Retried like any timeout.

    Attributes:
        attempt_timeout: the deadline of each attempt, in seconds.
    """

    def __init__(
        self, message: str, *, endpoint: str, attempts: int = 1, attempt_timeout: float
    ) -> None:
        super().__init__(message, endpoint=endpoint, attempts=attempts)
        self.attempt_timeout = attempt_timeout


class APITLSError(APIConnectionError):
    """The TLS handshake failed on a certificate: the server's is not trusted or not for
    this host, or the server refused this client's. Never retried: it would fail the
    same way."""

    # The message already says whether to check the hostname, the CA or the client's own.
    fix = None


class APIResponseTooLargeError(APIError, RejectedError):
    """An answer larger than the client's `max_response_size`, raw or decompressed.

    The client stops reading at the limit, so the answer never sits in memory whole.
    Not retried: the same request would get the same answer.

    Attributes:
        limit: the `max_response_size` that was exceeded, in bytes.
    """

    # A reachable control plane that took the token sent it: no reason not to start.
    blocks_start = False

    def __init__(self, message: str, *, endpoint: str, limit: int) -> None:
        super().__init__(message, endpoint=endpoint)
        self.limit = limit


class APIResponseValidationError(APIError):
    """A successful answer whose body does not match the contract.

    Attributes:
        status_code: the HTTP status of the answer.
        body: the decoded JSON body, or the raw text when it is not JSON.
    """

    def __init__(self, message: str, *, endpoint: str, status_code: int, body: Any) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status_code = status_code
        self.body = body


class APIStatusError(APIError):
    """The control plane answered with a non-2xx status.

    Attributes:
        status_code: the HTTP status.
        error: the server's `error` text when the body is an `ErrorResponse`, else None.
        body: the decoded JSON body, the raw text when it is not JSON, or None when empty.
        request_id: the answer's `x-request-id` header, to quote to Tempest support.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        attempts: int = 1,
        status_code: int,
        error: str | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, attempts=attempts)
        self.status_code = status_code
        self.error = error
        self.body = body
        self.request_id = request_id


class RequestRejectedError(APIStatusError, RejectedError):
    """A 4xx the same request would get again: anything but 401, 403, 404, 408 and 429."""

    @property
    def http_status(self) -> int | None:
        """The HTTP status of the refusal."""
        return self.status_code

    @property
    def reason(self) -> str:
        """The server's `error` text, else the HTTP status."""
        return self.error or f"HTTP {self.status_code}"


class BadRequestError(RequestRejectedError):
    """400: the control plane rejected the request body."""


class AuthenticationError(APIStatusError, AccessRefusedError):
    """401: the API token was rejected."""

    fix = (
        "Tempest rejected the API token. Set a valid token in TEMPEST_TOKEN or "
        "TEMPEST_TOKEN_FILE (or pass one to the client), and check that "
        "TEMPEST_API_ENDPOINT points at the right Tempest"
    )


class PermissionDeniedError(APIStatusError, AccessRefusedError):
    """403: the API token may not do this."""

    fix = (
        "the API token may not serve this app. Use a token of the organization that owns "
        "the app, and check that the app id and version are right"
    )


class NotFoundError(APIStatusError, GoneError):
    """404: the object (or, for a report, the task) does not exist."""


class RateLimitError(APIStatusError, RetryLaterError):
    """429: too many requests.

    Attributes:
        retry_after: the seconds the server asked to wait (`Retry-After`), or None.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError, RetryLaterError):
    """5xx: the control plane failed."""


_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

# What each status means for the caller, and what to do about it.
_ADVICE: dict[int, tuple[str, str]] = {
    400: (
        "the request was rejected as invalid",
        "the body did not match the contract: this is a bug in the app or the SDK, "
        "and the server's text says what it disliked",
    ),
    401: ("the API token was rejected", _TOKEN_ADVICE),
    403: (
        "the API token is not allowed to do this",
        "use a token of the organization that owns the app and the object",
    ),
    404: (
        "not found",
        "check the id (a report's task may be unknown, or its lease expired)",
    ),
    408: ("the server gave up waiting for the request", "try again"),
    409: ("the request conflicts with the object's state", "the server's text says which"),
    413: (
        "the request body is too large for the server",
        "make the handler's output smaller (a report carries it whole)",
    ),
    422: ("the request was refused as invalid", "the server's text says what it disliked"),
    429: ("too many requests", "slow down, or raise max_retries to wait longer"),
}
_SERVER_ADVICE = ("the control plane failed", "this is on Tempest's side: try again later")
_OTHER_ADVICE = ("the request was refused", "the server's text says why")
_ENDPOINT_ADVICE = (
    "check that the endpoint (TEMPEST_API_ENDPOINT or endpoint=) is the Tempest API: "
    "this answer does not come from it"
)


def decode_body(response: httpx.Response) -> Any:
    """The body as JSON when it is JSON, else its text, or None when it is empty."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return response.text


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` without any of `secrets` (the tokens the client sent), in any encoding."""
    return scrub(text, secrets) if secrets else text


def redact_data(value: Any, secrets: Sequence[str]) -> Any:
    """`value` (decoded JSON, or text) with `redact` applied to every string, keys too."""
    return scrub_data(value, secrets) if secrets else value


def quote(text: str) -> str:
    """Server text fit for a message: one line, cut to a sane length."""
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


def _from_tempest(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def status_error(
    response: httpx.Response,
    *,
    endpoint: str,
    attempts: int,
    retry_after: float | None,
    secrets: Sequence[str] = (),
) -> APIStatusError:
    """The typed error for a non-2xx answer, with a message saying what to do.

    Everything quoted from the answer is cleared of `secrets` first (a control plane
    may echo the `Authorization` header it was sent), before it is cut to length.
    """
    status = response.status_code
    body = redact_data(decode_body(response), secrets)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, str):
        error = None
    request_id = response.headers.get("x-request-id")
    if request_id is not None:
        request_id = redact(request_id, secrets)

    summary, advice = _ADVICE.get(status, _SERVER_ADVICE if status >= 500 else _OTHER_ADVICE)
    if 300 <= status < 400:
        location = response.headers.get("location")
        to = f" to {quote(redact(location, secrets))}" if location else ""
        summary = f"the endpoint redirects{to}"
        advice = (
            "redirects are not followed, so that the token goes only where it was sent: "
            "set TEMPEST_API_ENDPOINT (or endpoint=) to the API's own URL"
        )
    elif status < 500 and status not in (401, 403, 429) and not _from_tempest(body):
        # The Tempest API answers its errors as JSON {"error": ...}; anything else, like
        # a web server's HTML 404 or 405, means the request went somewhere else.
        advice = _ENDPOINT_ADVICE
    said = f' (server said: "{quote(error)}")' if error else ""
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    rid = f" [request id {request_id}]" if request_id else ""
    message = (
        f"POST {endpoint} answered {status} {quote(redact(response.reason_phrase, secrets))}"
        f"{tried}: "
        f"{summary}{said}; {advice}.{rid}"
    )

    cls = _CLASSES.get(status)
    if cls is None:
        if status >= 500:
            cls = InternalServerError
        elif 400 <= status < 500 and status != 408:
            cls = RequestRejectedError
        else:
            cls = APIStatusError
    fields: dict[str, Any] = {
        "endpoint": endpoint,
        "attempts": attempts,
        "status_code": status,
        "error": error,
        "body": body,
        "request_id": request_id,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **fields)
    return cls(message, **fields)
