"""What the sync and async clients share: configuration, requests, parsing, retries, logs.

The retry loop is written once, as a generator (`BaseClient._plan`) that yields the
I/O it needs — "send this request", "sleep this long" — and receives the outcome.
Each client only drives it with its own flavour of I/O, so every decision (what to
retry, how long to wait, which error to raise, what to log) lives here.
"""

from __future__ import annotations

import email.utils
import logging
import math
import ssl
import time
import traceback
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

import httpx
import pydantic

from .._backoff import Backoff
from .._secrets import register_process_secrets, unregister_process_secrets
from ..models import MalformedTaskError, describe_errors
from ._calls import Call, Item, Listing, P
from ._config import (
    MAX_RETRY_AFTER,
    Secret,
    TimeoutTypes,
    UseClientDefault,
    resolve_attempt_timeout,
    resolve_endpoint,
    resolve_max_connections,
    resolve_max_retries,
    resolve_token,
    token_file,
    user_agent,
)
from ._errors import (
    APIAttemptTimeoutError,
    APIConnectionError,
    APIError,
    APIResponseTooLargeError,
    APIResponseValidationError,
    APITimeoutError,
    APITLSError,
    TempestConfigError,
    decode_body,
    quote,
    redact,
    redact_data,
    status_error,
)
from ._http import (
    ACCEPT_ENCODING,
    AttemptTimeout,
    CertTypes,
    TooLarge,
    VerifyTypes,
    certificate_problem,
    check_max_response_size,
    is_cleartext_remote,
    post_request,
    ssl_context,
)

__all__ = ["BaseClient", "Outcome", "Send", "Sleep", "next_cursor", "parse_retry_after"]

log = logging.getLogger("tempest_sdk.client")

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

# Failures where the request may not have reached the server, or the answer was lost:
# worth another try. Others (a bad URL scheme, a local protocol error) would fail again.
_RETRYABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connecting",
    httpx.ReadTimeout: "waiting for the answer",
    httpx.WriteTimeout: "sending the request",
    httpx.PoolTimeout: "waiting for a free connection",
}


@dataclass(frozen=True, slots=True)
class Send:
    """Step of a plan: send this request and hand back the response or transport error."""

    request: httpx.Request


@dataclass(frozen=True, slots=True)
class Sleep:
    """Step of a plan: wait this many seconds, then hand back None."""

    seconds: float


Outcome = httpx.Response | httpx.TransportError | TooLarge | None
"""What a driver hands back to a plan after a step."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or None.

    Past dates give 0; unreadable values give None (the caller falls back to backoff).
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def next_cursor(
    listing: Listing[P, Item], page: P, seen: set[str], secrets: tuple[str, ...] = ()
) -> str | None:
    """The cursor of the page after `page`, or None on the last page.

    Raises:
        APIResponseValidationError: the server handed out a cursor it gave before,
            which would make the walk endless.
    """
    cursor = page.next
    if not cursor:
        return None
    if cursor in seen:
        endpoint = listing.page(cursor).endpoint
        raise APIResponseValidationError(
            f"POST {endpoint} returned the cursor {quote(redact(cursor, secrets))!r} twice; "
            "stopped walking the pages to avoid an endless loop (a control plane bug: "
            "report it to Tempest)",
            endpoint=endpoint,
            status_code=200,
            body=None,
        )
    seen.add(cursor)
    return cursor


class BaseClient(Generic[HttpT]):
    """Configuration and the flavour-free half of every call. Not used directly."""

    _given_http: HttpT | None
    """The `http_client=` the caller gave (and keeps owning), or None."""

    def __init__(
        self,
        token: str | None,
        *,
        endpoint: str | None,
        timeout: TimeoutTypes,
        max_retries: int,
        backoff: Backoff | None,
        http_client: object | None,
        transport: object | None,
        verify: VerifyTypes,
        cert: CertTypes,
        trust_env: bool,
        max_response_size: int,
        max_connections: int | None,
        attempt_timeout: float | None,
        mask_token: bool = False,
    ) -> None:
        # Everything is checked before an HTTP client exists, so a bad configuration
        # never leaves a connection pool behind.
        if http_client is not None and transport is not None:
            raise TempestConfigError(
                "pass either http_client= or transport=, not both: an injected client "
                "already has its transport"
            )
        if max_connections is not None and (http_client is not None or transport is not None):
            given = "http_client=" if http_client is not None else "transport="
            raise TempestConfigError(
                f"max_connections= sizes the client's own connection pool, and the {given} "
                "you passed brings its own: set the limit on it (httpx.Limits), or leave "
                f"out {given}"
            )
        if http_client is not None and (verify is not None or cert is not None):
            raise TempestConfigError(
                "pass verify= and cert= to the httpx client given as http_client=, not "
                "to this client: an injected client already has its TLS settings"
            )
        self._token = resolve_token(token)
        self._mask_token = mask_token
        # The tokens registered as process secrets, released when the client closes.
        self._masked: list[str] = []
        # Every token sent so far (the first, and each one re-read from the file): none
        # of them may come back inside an error, whatever a server echoes.
        self._sent_tokens: list[Secret] = [self._token]
        # Where the token came from, when a file: Kubernetes rewrites a mounted Secret in
        # place when it rotates, so a refused token is read again from there.
        self._token_file = token_file(token)
        self._endpoint = resolve_endpoint(endpoint)
        self._timeout = httpx.Timeout(timeout)
        self._max_retries = resolve_max_retries(max_retries)
        self._max_response_size = check_max_response_size(max_response_size)
        # A given transport or client has its own pool: the environment's size is not
        # forced on it (an explicit max_connections= with one was refused above).
        self._max_connections = (
            resolve_max_connections(max_connections)
            if http_client is None and transport is None
            else None
        )
        self._attempt_timeout = resolve_attempt_timeout(attempt_timeout)
        self._call_timeout = self._phase_timeout(self._timeout)
        self._backoff = backoff if backoff is not None else Backoff()
        self._trust_env = trust_env
        # Built only for a client that makes its own connections; loading CAs is costly.
        self._ssl: ssl.SSLContext | None = (
            ssl_context(verify, cert, trust_env=trust_env)
            if http_client is None and transport is None
            else None
        )
        self._headers = self._headers_for(self._token)
        self._urls: dict[str, httpx.URL] = {}
        if is_cleartext_remote(self._endpoint):
            log.warning(
                "the Tempest API endpoint %s is plain http to another machine: the API "
                "token and every task travel in clear; use https",
                self._endpoint,
            )
        # Last: a client that failed to build leaves nothing registered.
        self._mask(self._token)

    @property
    def endpoint(self) -> str:
        """The API base URL every call goes to, without a trailing slash."""
        return self._endpoint

    @property
    def timeout(self) -> httpx.Timeout:
        """The timeout of each call made without `timeout=`."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        """The retries of each call made without `max_retries=`."""
        return self._max_retries

    @property
    def max_response_size(self) -> int:
        """The largest answer body accepted, in bytes, raw and decompressed."""
        return self._max_response_size

    @property
    def max_connections(self) -> int | None:
        """The size of the client's own connection pool (the most open at once); None
        when it sends through a given `transport=` or `http_client=`, which has its own."""
        return self._max_connections

    @property
    def attempt_timeout(self) -> float | None:
        """Seconds each attempt may take in all (connect, send, whole answer); None
        for no deadline."""
        return self._attempt_timeout

    def _phase_timeout(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """The phases' timeouts of an attempt: `timeout`, none longer than the attempt.

        Blocking code sees the attempt's deadline only between reads, so each read is
        bounded by it too.
        """
        if self._attempt_timeout is None:
            return timeout
        return _capped(timeout, self._attempt_timeout)

    def _mask(self, token: Secret) -> None:
        """With `mask_token`, mask `token` wherever the SDK writes until the client closes."""
        if self._mask_token:
            register_process_secrets([token.reveal()])
            self._masked.append(token.reveal())

    def _unmask(self) -> None:
        """Release what `_mask` registered (the client closes: its tokens go with it)."""
        masked, self._masked = self._masked, []
        unregister_process_secrets(masked)

    def _secrets(self) -> tuple[str, ...]:
        """The tokens this client has sent, to clear from anything a server quotes."""
        return tuple(token.reveal() for token in self._sent_tokens)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} endpoint={self._endpoint!r}>"

    @staticmethod
    def _headers_for(token: Secret) -> httpx.Headers:
        # httpx.Headers masks the Authorization value in its repr.
        return httpx.Headers(
            {
                "Authorization": f"Bearer {token.reveal()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": user_agent(),
            }
        )

    def _reread_token(self) -> bool:
        """After a 401: read the token file again; True when it holds a new token.

        A file that cannot be read right now (a Secret being swapped) keeps the token
        in use; the next refusal tries again.
        """
        path = self._token_file
        if path is None:
            return False
        try:
            token = resolve_token(None, {"TEMPEST_TOKEN_FILE": path})
        except TempestConfigError as exc:
            log.warning("the API token was refused, and reading it again failed: %s", exc)
            return False
        if token.reveal() == self._token.reveal():
            return False
        # One assignment each: a sync client shared by threads sees old or new, whole.
        self._sent_tokens = [*self._sent_tokens, token]
        self._token = token
        self._mask(token)
        self._headers = self._headers_for(token)
        log.info("the API token was refused; %s holds a new one, used from now on", path)
        return True

    def _build_request(
        self, call: Call[T], timeout: TimeoutTypes | UseClientDefault
    ) -> httpx.Request:
        chosen = (
            self._call_timeout
            if isinstance(timeout, UseClientDefault)
            else self._phase_timeout(httpx.Timeout(timeout))
        )
        http = self._given_http
        if http is not None:
            # An injected client's own headers, cookies and hooks apply to every call.
            return http.build_request(
                "POST",
                self._endpoint + call.endpoint,
                content=call.body.to_json(),
                headers=self._headers,
                timeout=chosen,
            )
        url = self._urls.get(call.endpoint)
        if url is None:
            url = self._urls[call.endpoint] = httpx.URL(self._endpoint + call.endpoint)
        # The client's own requests go to a transport, or to an httpx client of its own
        # with no default headers or cookies to merge in: the request is built directly.
        return post_request(url, self._headers, call.body.to_json(), {"timeout": chosen.as_dict()})

    def _plan(
        self,
        call: Call[T],
        timeout: TimeoutTypes | UseClientDefault,
        max_retries: int | UseClientDefault,
    ) -> Generator[Send | Sleep, Outcome, T]:
        """The whole life of a call, as steps for a driver; returns the parsed answer."""
        retries = (
            self._max_retries
            if isinstance(max_retries, UseClientDefault)
            else resolve_max_retries(max_retries)
        )
        total = retries + 1
        request = self._build_request(call, timeout)
        attempt = 0
        reread = False
        while True:
            attempt += 1
            started = time.perf_counter()
            outcome = yield Send(request)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            retry_after: float | None = None
            error: APIError
            if isinstance(outcome, httpx.Response):
                status = outcome.status_code
                log.debug(
                    "POST %s -> %d in %.1f ms (attempt %d of %d)",
                    call.endpoint,
                    status,
                    elapsed_ms,
                    attempt,
                    total,
                )
                if outcome.is_success:
                    return self._parse(call, outcome)
                if status == 401 and not reread and self._reread_token():
                    # The token was rotated under us: the same call with the new one,
                    # at once and outside the retry budget (once a call).
                    reread = True
                    attempt -= 1
                    request = self._build_request(call, timeout)
                    continue
                retry_after = parse_retry_after(outcome.headers.get("retry-after"))
                error = status_error(
                    outcome,
                    endpoint=call.endpoint,
                    attempts=attempt,
                    retry_after=retry_after,
                    secrets=self._secrets(),
                )
                retryable = status == 429 or status >= 500
                reason = str(status)
            elif isinstance(outcome, TooLarge):
                raise self._too_large(call, outcome)
            elif isinstance(outcome, httpx.TransportError):
                reason = type(outcome).__name__
                log.debug(
                    "POST %s failed in %.1f ms (attempt %d of %d): %s",
                    call.endpoint,
                    elapsed_ms,
                    attempt,
                    total,
                    reason,
                )
                error = self._connection_error(call, outcome, attempt)
                retryable = isinstance(outcome, _RETRYABLE_TRANSPORT) and not isinstance(
                    error, APITLSError
                )
            else:  # pragma: no cover - a driver bug, not a runtime condition
                raise TypeError(f"a plan needs a response or a transport error, got {outcome!r}")

            if not retryable or attempt >= total:
                cause = self._safe_cause(outcome) if isinstance(outcome, Exception) else None
                try:
                    raise error from cause
                finally:
                    # The error's traceback holds this frame: a local naming the error
                    # would make a reference cycle, kept (with the answer) until a GC.
                    del error
            delay = self._delay(attempt - 1, retry_after)
            log.debug(
                "retrying POST %s in %.2f s after %s (attempt %d of %d)",
                call.endpoint,
                delay,
                reason,
                attempt + 1,
                total,
            )
            yield Sleep(delay)

    def _delay(self, retry: int, retry_after: float | None) -> float:
        """How long to wait before retry number `retry` (0-based)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        return self._backoff.delay(retry)

    def _parse(self, call: Call[T], response: httpx.Response) -> T:
        secrets = self._secrets()
        try:
            return call.parse(response)
        except pydantic.ValidationError as exc:
            # Field paths are the server's keys: they are quoted, so they are cleared too.
            problems = redact(describe_errors(exc), secrets)
            raise APIResponseValidationError(
                f"POST {call.endpoint} answered {response.status_code} with a body that does "
                f"not match the contract: {problems}. Check that the endpoint "
                f"({self._endpoint}) is the Tempest API; if it is, the API has changed and "
                "tempest-sdk needs an upgrade",
                endpoint=call.endpoint,
                status_code=response.status_code,
                body=redact_data(decode_body(response), secrets),
            ) from None
        except MalformedTaskError as exc:
            # Its message quotes the task's id and kind, which come from the server.
            exc.args = tuple(
                redact(arg, secrets) if isinstance(arg, str) else arg for arg in exc.args
            )
            raise

    def _too_large(self, call: Call[T], outcome: TooLarge) -> APIResponseTooLargeError:
        how = {
            "announced": "announced a body of more than",
            "received": "sent more than",
            "decompressed": "sent a body that decompresses to more than",
        }[outcome.what]
        return APIResponseTooLargeError(
            f"POST {self._endpoint}{call.endpoint} {how} max_response_size "
            f"({outcome.limit:,} bytes); stopped reading it. No real Tempest answer is this "
            "large: check TEMPEST_API_ENDPOINT, or raise max_response_size if it is right",
            endpoint=call.endpoint,
            limit=outcome.limit,
        )

    def _connection_error(
        self, call: Call[T], exc: httpx.TransportError, attempts: int
    ) -> APIConnectionError:
        tried = f" (tried {attempts} times)" if attempts > 1 else ""
        where = f"{self._endpoint}{call.endpoint}"
        secrets = self._secrets()
        if isinstance(exc, AttemptTimeout):
            return APIAttemptTimeoutError(
                f"POST {where} took longer than attempt_timeout ({exc.seconds:g} s) to "
                f"connect, send and read the whole answer{tried}; the answer came too "
                "slowly: check the network and TEMPEST_API_ENDPOINT, or raise "
                "attempt_timeout= (TEMPEST_ATTEMPT_TIMEOUT)",
                endpoint=call.endpoint,
                attempts=attempts,
                attempt_timeout=exc.seconds,
            )
        problem = certificate_problem(exc)
        if problem is not None:
            detail = redact(problem.detail, secrets)
            return APITLSError(
                f"POST {where} failed: TLS certificate problem: {quote(detail)}; {problem.advice}",
                endpoint=call.endpoint,
                attempts=attempts,
            )
        if isinstance(exc, httpx.TimeoutException):
            phase = _TIMEOUT_PHASES.get(type(exc), "waiting")
            return APITimeoutError(
                f"POST {where} timed out while {phase}{tried}; check the network and "
                "TEMPEST_API_ENDPOINT, or raise timeout=",
                endpoint=call.endpoint,
                attempts=attempts,
            )
        detail = quote(redact(str(exc), secrets)) or type(exc).__name__
        return APIConnectionError(
            f"POST {where} failed: {detail}{tried}; check the network and that "
            "TEMPEST_API_ENDPOINT is right",
            endpoint=call.endpoint,
            attempts=attempts,
        )

    def _safe_cause(self, exc: Exception) -> Exception:
        """`exc` to chain under the client's error, or a stand-in of the same type
        without the sent tokens when its traceback text would show one (a transport
        quoting a malformed answer that echoed the `Authorization` header)."""
        secrets = self._secrets()
        shown = "".join(traceback.format_exception(exc))
        if redact(shown, secrets) == shown:
            return exc
        try:
            stand_in = type(exc)(redact(str(exc), secrets))
        except Exception:  # a type that wants other arguments
            stand_in = httpx.TransportError(redact(str(exc), secrets))
        return stand_in


def _capped(timeout: httpx.Timeout, limit: float) -> httpx.Timeout:
    """`timeout` with no phase longer than `limit` seconds (None, no limit, becomes it)."""

    def cap(value: float | None) -> float:
        return limit if value is None else min(value, limit)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )
