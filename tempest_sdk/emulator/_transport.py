"""The in-process httpx transport: the emulator without sockets, for fast unit tests."""

from __future__ import annotations

import time

import anyio
import httpx

from ._answer import Answer
from ._core import Core

__all__ = ["EmulatorTransport"]


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) that hands each request to an emulator.

    Behaves like the socket server: injected latency is waited (and turns into
    `httpx.ReadTimeout` when it exceeds the request's read timeout), a dropped
    connection raises `httpx.RemoteProtocolError`, as httpx does against a server
    that closes the connection without answering.
    """

    def __init__(self, core: Core) -> None:
        self._core = core

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request of a sync `httpx.Client`."""
        answer = self._core.handle(
            request.method, request.url.raw_path.decode("ascii"), request.headers, request.read()
        )
        if answer.delay:
            wait, timed_out = _wait(request, answer.delay)
            time.sleep(wait)
            if timed_out:
                raise httpx.ReadTimeout("timed out waiting for the emulator", request=request)
        return _response(request, answer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request of an `httpx.AsyncClient`."""
        answer = self._core.handle(
            request.method,
            request.url.raw_path.decode("ascii"),
            request.headers,
            await request.aread(),
        )
        if answer.delay:
            wait, timed_out = _wait(request, answer.delay)
            await anyio.sleep(wait)
            if timed_out:
                raise httpx.ReadTimeout("timed out waiting for the emulator", request=request)
        return _response(request, answer)


def _wait(request: httpx.Request, delay: float) -> tuple[float, bool]:
    read = request.extensions.get("timeout", {}).get("read")
    if read is not None and read < delay:
        return read, True
    return delay, False


def _response(request: httpx.Request, answer: Answer) -> httpx.Response:
    if answer.drop:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    return httpx.Response(answer.status, headers=answer.headers, content=answer.body)
