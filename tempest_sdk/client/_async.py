"""The asynchronous API client.

The sync client (`_sync.py`) is generated from this file by `tools/unasync.py`: change
this file, then run `python tools/unasync.py`. What differs between the two beyond
`async`/`await` lives by hand in `_driver.py`.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import AsyncIterator
from typing import Self, TypeVar, cast

import httpx

from .. import models
from .._backoff import Backoff
from ._base import BaseClient, Outcome, Send, Sleep, next_cursor
from ._calls import (
    PROJECTS,
    RECIPES,
    RESOURCES,
    Call,
    Item,
    Listing,
    P,
    connect_app_version_call,
    get_project_call,
    get_recipe_call,
    get_resource_call,
    list_projects_call,
    list_recipes_call,
    list_resources_call,
    next_task_call,
    report_call,
    report_health_call,
)
from ._config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    USE_CLIENT_DEFAULT,
    TimeoutTypes,
    UseClientDefault,
)
from ._driver import (
    AsyncChunks,
    AsyncHttp,
    AsyncSleep,
    async_attempt,
    async_sleep,
    open_async_http,
)
from ._http import (
    DEFAULT_MAX_RESPONSE_SIZE,
    AnswerTooLarge,
    BodyReader,
    CertTypes,
    VerifyTypes,
    transport_error,
)

__all__ = ["AsyncTempestClient"]

T = TypeVar("T")


class AsyncTempestClient(BaseClient[httpx.AsyncClient]):
    """An asynchronous client of the Tempest Private Apps API (asyncio or trio).

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
        http_client: an `httpx.AsyncClient` to send with; the caller keeps owning it
            (this client never closes it). Redirects are never followed.
        transport: an `httpx.AsyncBaseTransport` that every request goes to, straight
            (then `verify`, `cert`, the pool size and environment proxies are the
            transport's business); the client closes it when closed.
            Default: httpx-aiohttp's on asyncio and uvloop, httpx's own on trio, chosen
            at the first call; behind an environment proxy, an httpx client over it.
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
        max_connections: the most connections the client's own transport opens at once
            (and keeps alive); calls beyond it wait for a free one. Size it for what
            may be in flight: pollers + reporters + health checks. Default:
            `TEMPEST_MAX_CONNECTIONS`, else 100.
        attempt_timeout: seconds each attempt may take in all: connecting, sending and
            reading the whole answer, however steadily it trickles in; past it the
            attempt fails with `APIAttemptTimeoutError` (and is retried like any
            timeout). `float("inf")` for no deadline. Default:
            `TEMPEST_ATTEMPT_TIMEOUT`, else 60 s.
        mask_token: mask the token (and each one re-read from `TEMPEST_TOKEN_FILE`)
            wherever the SDK writes, log records of every logger included, for the
            rest of the process. What a runner does with the client it builds;
            off by default, so a local emulator's token stays readable.

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
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: VerifyTypes = None,
        cert: CertTypes = None,
        trust_env: bool = True,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        max_connections: int | None = None,
        attempt_timeout: float | None = None,
        mask_token: bool = False,
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
            max_connections=max_connections,
            attempt_timeout=attempt_timeout,
            mask_token=mask_token,
        )
        self._given_http = http_client
        # What the client's own requests go to: a transport (straight), or an httpx
        # client when the environment's proxies need httpx's routing.
        self._own: AsyncHttp | None = transport
        self._opening = threading.Lock()
        self._closed = False
        # Replaced in tests to check delays without waiting them.
        self._sleep: AsyncSleep = async_sleep

    def _http(self) -> AsyncHttp:
        if self._closed:
            raise RuntimeError("this AsyncTempestClient is closed; build a new one")
        if self._given_http is not None:
            return self._given_http
        own = self._own
        if own is None:
            # Built at the first call: the async client learns its event loop only then
            # (aiohttp runs on asyncio only, and its connections belong to that loop).
            # The lock keeps threads sharing a client from building two pools.
            with self._opening:
                own = self._own
                if own is None:
                    own = self._own = open_async_http(
                        context=cast(ssl.SSLContext, self._ssl),  # built without transport=
                        trust_env=self._trust_env,
                        timeout=self._timeout,
                        max_connections=cast(int, self._max_connections),
                    )
        return own

    async def _send(
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
                outcome = await self._perform(step)
        finally:
            plan.close()

    async def _perform(self, step: Send | Sleep) -> Outcome:
        if isinstance(step, Sleep):
            await self._sleep(step.seconds)
            return None
        http = self._http()
        request = step.request
        try:
            async with async_attempt(self._attempt_timeout) as deadline:
                if isinstance(http, httpx.AsyncClient):
                    response = await http.send(request, stream=True, follow_redirects=False)
                else:
                    response = await http.handle_async_request(request)
                    response.request = request
                try:
                    deadline.check()
                    body = BodyReader(response, self._max_response_size)
                    if body.whole or (body.plain and not deadline.polled):
                        return body.check(await response.aread())
                    # Closed at once when the cap stops the reading early (trio warns of
                    # async generators left for the garbage collector to close).
                    raw = cast(AsyncChunks, response.aiter_raw())
                    async with contextlib.aclosing(raw) as chunks:
                        async for chunk in chunks:
                            deadline.check()
                            body.feed(chunk)
                    return body.response()
                finally:
                    await response.aclose()
        except AnswerTooLarge as exc:
            return exc.outcome
        except Exception as exc:
            # The same net on both flavours: a transport may raise its own library's
            # errors (aiohttp's, unmapped), which become the httpx error they mean.
            failure = transport_error(exc)
            if failure is None:
                raise
            return failure

    async def _walk(
        self,
        listing: Listing[P, Item],
        timeout: TimeoutTypes | UseClientDefault,
        max_retries: int | UseClientDefault,
    ) -> AsyncIterator[Item]:
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = await self._send(listing.page(cursor), timeout, max_retries)
            for item in listing.items(page):
                yield item
            cursor = next_cursor(listing, page, seen, self._secrets())
            if cursor is None:
                return

    async def connect_app_version(
        self,
        request: models.ConnectRequest,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.StandardResponse:
        """Declare an app version and its resource types (`/apps.version.connect`).

        Returns:
            The answer; `metadata.tempest_app_url` links to the app in Tempest.
        """
        return await self._send(connect_app_version_call(request), timeout, max_retries)

    async def next_task(
        self,
        app_id: str,
        version: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.Task | None:
        """Fetch the next task of an app version (`/apps.operations.next`).

        Returns:
            The task, or None when there is no work now (204).

        Raises:
            MalformedTaskError: the answer is not a valid task (`task_id` set when known).
            UnknownTaskTypeError: the task is of a kind this SDK does not know.
        """
        return await self._send(next_task_call(app_id, version), timeout, max_retries)

    async def report(
        self,
        report: models.TaskReport,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.StandardResponse:
        """Report the outcome of a task (`/apps.operations.report`).

        Raises:
            NotFoundError: the control plane does not know the task (or its lease expired).
        """
        return await self._send(report_call(report), timeout, max_retries)

    async def report_health(
        self,
        request: models.AppHealthReportRequest,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.StandardResponse:
        """Report the health of an app version's resource types (`/apps.versions.health`)."""
        return await self._send(report_health_call(request), timeout, max_retries)

    async def get_resource(
        self,
        id: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.Resource:
        """Fetch one resource by its Tempest id (`/resources.get`)."""
        return await self._send(get_resource_call(id), timeout, max_retries)

    async def list_resources(
        self,
        next: str | None = None,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.ListResourcesResponse:
        """Fetch one page of resources (`/resources.list`); `next` is the page's cursor."""
        return await self._send(list_resources_call(next), timeout, max_retries)

    async def get_project(
        self,
        id: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.Project:
        """Fetch one project by id (`/projects.get`)."""
        return await self._send(get_project_call(id), timeout, max_retries)

    async def list_projects(
        self,
        next: str | None = None,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.ListProjectsResponse:
        """Fetch one page of projects (`/projects.list`); `next` is the page's cursor."""
        return await self._send(list_projects_call(next), timeout, max_retries)

    async def get_recipe(
        self,
        id: str,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.Recipe:
        """Fetch one recipe by id (`/recipes.get`)."""
        return await self._send(get_recipe_call(id), timeout, max_retries)

    async def list_recipes(
        self,
        next: str | None = None,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> models.ListRecipesResponse:
        """Fetch one page of recipes (`/recipes.list`); `next` is the page's cursor."""
        return await self._send(list_recipes_call(next), timeout, max_retries)

    def iter_resources(
        self,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> AsyncIterator[models.Resource]:
        """Every resource, page after page, fetched as the iteration goes."""
        return self._walk(RESOURCES, timeout, max_retries)

    def iter_projects(
        self,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> AsyncIterator[models.Project]:
        """Every project, page after page, fetched as the iteration goes."""
        return self._walk(PROJECTS, timeout, max_retries)

    def iter_recipes(
        self,
        *,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> AsyncIterator[models.Recipe]:
        """Every recipe, page after page, fetched as the iteration goes."""
        return self._walk(RECIPES, timeout, max_retries)

    async def aclose(self) -> None:
        """Close the client's own connections (an injected `http_client` is left open).

        Calls made after it raise `RuntimeError`; closing again does nothing.
        """
        if not self._closed and self._own is not None:
            await self._own.aclose()
        self._closed = True
        self._unmask()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
