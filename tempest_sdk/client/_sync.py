"""The synchronous API client, for scripts and notebooks."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Self, TypeVar, cast

import httpx

from .._backoff import Backoff
from ..models import (
    AppHealthReportRequest,
    ConnectRequest,
    ListProjectsResponse,
    ListRecipesResponse,
    ListResourcesResponse,
    Project,
    Recipe,
    Resource,
    StandardResponse,
    Task,
    TaskReport,
)
from . import _calls
from ._base import BaseClient, Outcome, Send, Sleep, next_cursor
from ._calls import Call, Item, Listing, P
from ._config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USE_CLIENT_DEFAULT,
    TimeoutTypes,
    UseClientDefault,
)
from ._http import (
    DEFAULT_MAX_RESPONSE_SIZE,
    AnswerTooLarge,
    BodyReader,
    CertTypes,
    VerifyTypes,
    build_sync_http,
    transport_error,
)

__all__ = ["TempestClient"]

T = TypeVar("T")


class TempestClient(BaseClient[httpx.Client]):
    """A synchronous client of the Tempest Private Apps API.

    The same calls, errors and retries as `AsyncTempestClient`, blocking.

    Every method makes one POST, retried with full-jitter backoff on connection
    errors, timeouts, 429 and 5xx, and takes keyword-only `timeout=` and `max_retries=`
    that override the client's settings for that call.

    Args:
        token: the API token. Default: the file named by `TEMPEST_TOKEN_FILE`, else
            `TEMPEST_TOKEN`.
        endpoint: the API base URL. Default: `TEMPEST_API_ENDPOINT`, else `DEFAULT_ENDPOINT`.
        timeout: seconds, an `httpx.Timeout`, or None for none. Default: 5 s to connect,
            30 s for the rest.
        max_retries: retries after the first attempt; 0 makes a single attempt.
        backoff: the delays between retries. Default: `Backoff()` (0.5 s doubling to 8 s).
        http_client: an `httpx.Client` to send with; the caller keeps owning it
            (this client never closes it). Redirects are never followed.
        transport: an `httpx.BaseTransport` for the client's own `httpx.Client`
            (then `verify`, `cert` and environment proxies are the transport's business).
            Default: httpx's own.
        verify: True (httpx's CAs, or `SSL_CERT_FILE` / `SSL_CERT_DIR`), the path of a
            CA bundle file or directory, an `ssl.SSLContext`, or False (tests only).
            Default: `TEMPEST_CA_BUNDLE` when set, else True.
        cert: a client certificate for mutual TLS: a PEM file holding it and its key, or
            (certificate file, key file). Default: `TEMPEST_CLIENT_CERT` (and
            `TEMPEST_CLIENT_KEY`) when set.
        trust_env: take proxies (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, ...) and
            `SSL_CERT_FILE` / `SSL_CERT_DIR` from the environment, as httpx does.
        max_response_size: the largest answer body accepted, in bytes, counted as it
            streams in and again decompressed; a larger one raises
            `APIResponseTooLargeError`.

    Raises:
        TempestConfigError: no token, an unreadable token file or CA bundle, a bad
            endpoint or option.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        endpoint: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: Backoff | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: VerifyTypes = None,
        cert: CertTypes = None,
        trust_env: bool = True,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        super().__init__(
            token,
            endpoint=endpoint,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            http_client=http_client,
            transport=transport,
            verify=verify,
            cert=cert,
            trust_env=trust_env,
            max_response_size=max_response_size,
        )
        self._given_http = http_client
        self._own: httpx.Client | None = None
        if http_client is None:
            if transport is not None:
                http_client = httpx.Client(
                    transport=transport, timeout=self._timeout, follow_redirects=False
                )
            else:
                http_client = build_sync_http(
                    context=cast(ssl.SSLContext, self._ssl),  # built when no transport given
                    trust_env=trust_env,
                    timeout=self._timeout,
                )
            self._own = http_client
        self._http = http_client
        # Replaced in tests to check delays without waiting them.
        self._sleep: Callable[[float], None] = time.sleep

    def _send(
        self,
        call: Call[T],
        timeout: TimeoutTypes | UseClientDefault,
        max_retries: int | UseClientDefault,
    ) -> T:
        plan = self._plan(call, timeout, max_retries)
        try:
            outcome: Outcome = None
            while True:
                try:
                    step = plan.send(outcome)
                except StopIteration as done:
                    result: T = done.value
                    return result
                outcome = self._perform(step)
        finally:
            plan.close()

    def _perform(self, step: Send | Sleep) -> Outcome:
        if isinstance(step, Sleep):
            self._sleep(step.seconds)
            return None
        try:
            response = self._http.send(step.request, stream=True, follow_redirects=False)
            try:
                body = BodyReader(response, self._max_response_size)
                if body.plain:
                    return body.check(response.read())
                for chunk in response.iter_raw():
                    body.feed(chunk)
                return body.response()
            finally:
                response.close()
        except AnswerTooLarge as exc:
            return exc.outcome
        except httpx.TransportError as exc:
            return transport_error(exc) or exc

    def _walk(
        self,
        listing: Listing[P, Item],
        timeout: TimeoutTypes | UseClientDefault,
        max_retries: int | UseClientDefault,
    ) -> Iterator[Item]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self._send(listing.page(cursor), timeout, max_retries)
            yield from listing.items(page)
            cursor = next_cursor(listing, page, seen)
            if cursor is None:
                return

    def connect_app_version(
        self,
        request: ConnectRequest,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> StandardResponse:
        """Declare an app version and its resource types (`/apps.version.connect`).

        Returns:
            The answer; `metadata.tempest_app_url` links to the app in Tempest.
        """
        return self._send(_calls.connect_app_version(request), timeout, max_retries)

    def next_task(
        self,
        app_id: str,
        version: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Task | None:
        """Fetch the next task of an app version (`/apps.operations.next`).

        Returns:
            The task, or None when there is no work now (204).

        Raises:
            MalformedTaskError: the answer is not a valid task (`task_id` set when known).
            UnknownTaskTypeError: the task is of a kind this SDK does not know.
        """
        return self._send(_calls.next_task(app_id, version), timeout, max_retries)

    def report(
        self,
        report: TaskReport,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> StandardResponse:
        """Report the outcome of a task (`/apps.operations.report`).

        Raises:
            NotFoundError: the control plane does not know the task (or its lease expired).
        """
        return self._send(_calls.report(report), timeout, max_retries)

    def report_health(
        self,
        request: AppHealthReportRequest,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> StandardResponse:
        """Report the health of an app version's resource types (`/apps.versions.health`)."""
        return self._send(_calls.report_health(request), timeout, max_retries)

    def get_resource(
        self,
        id: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Resource:
        """Fetch one resource by its Tempest id (`/resources.get`)."""
        return self._send(_calls.get_resource(id), timeout, max_retries)

    def list_resources(
        self,
        next: str | None = None,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> ListResourcesResponse:
        """Fetch one page of resources (`/resources.list`); `next` is the page's cursor."""
        return self._send(_calls.list_resources(next), timeout, max_retries)

    def get_project(
        self,
        id: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Project:
        """Fetch one project by id (`/projects.get`)."""
        return self._send(_calls.get_project(id), timeout, max_retries)

    def list_projects(
        self,
        next: str | None = None,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> ListProjectsResponse:
        """Fetch one page of projects (`/projects.list`); `next` is the page's cursor."""
        return self._send(_calls.list_projects(next), timeout, max_retries)

    def get_recipe(
        self,
        id: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Recipe:
        """Fetch one recipe by id (`/recipes.get`)."""
        return self._send(_calls.get_recipe(id), timeout, max_retries)

    def list_recipes(
        self,
        next: str | None = None,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> ListRecipesResponse:
        """Fetch one page of recipes (`/recipes.list`); `next` is the page's cursor."""
        return self._send(_calls.list_recipes(next), timeout, max_retries)

    def iter_resources(
        self,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Iterator[Resource]:
        """Every resource, page after page, fetched as the iteration goes."""
        return self._walk(_calls.RESOURCES, timeout, max_retries)

    def iter_projects(
        self,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Iterator[Project]:
        """Every project, page after page, fetched as the iteration goes."""
        return self._walk(_calls.PROJECTS, timeout, max_retries)

    def iter_recipes(
        self,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Iterator[Recipe]:
        """Every recipe, page after page, fetched as the iteration goes."""
        return self._walk(_calls.RECIPES, timeout, max_retries)

    def close(self) -> None:
        """Close the client's own connections (an injected `http_client` is left open)."""
        if self._own is not None:
            self._own.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
