"""HTTP details of the socket server: framing, keep-alive, odd requests."""

from __future__ import annotations

import socket

import httpx
import pytest

from tempest_sdk.emulator import DEFAULT_TOKEN, Emulator

from .conftest import APP, VERSION


@pytest.fixture
def served() -> Emulator:
    # The fixed token, so that the raw requests below can carry it.
    emulator = Emulator(token=DEFAULT_TOKEN)
    with emulator.serve_in_thread():
        yield emulator


def _port(emulator: Emulator) -> int:
    return int(emulator.url.split(":")[2].split("/")[0])


def test_a_chunked_body_is_read(served):
    task_id = served.enqueue_list(APP, VERSION, "example")

    def body():
        yield b'{"app_id": "helloworld",'
        yield b' "version": "v1"}'

    with httpx.Client(base_url=served.url) as http:
        answer = http.post(
            "/apps.operations.next",
            content=body(),
            headers={"authorization": f"Bearer {served.token}", "content-type": "application/json"},
        )

    assert answer.status_code == 200
    assert answer.json()["task_id"] == task_id


def _raw(emulator: Emulator, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", _port(emulator)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_truncated_body_is_a_400(served):
    body = b'{"app_id":"helloworld","version":"v1"}'[:20]
    request = (
        b"POST /api/v1/apps.operations.next HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer emulator-token\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )

    answer = _raw(served, request)

    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"body: expected JSON, got invalid JSON" in answer


def test_no_content_has_no_content_length(served):
    body = b'{"app_id":"helloworld","version":"v1"}'
    request = (
        b"POST /api/v1/apps.operations.next HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer emulator-token\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )

    answer = _raw(served, request)

    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"content-length" not in head.lower()
    assert rest == b""


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: -3\r\n", b"400"),
        (b"Content-Length: 99999999999\r\n", b"413"),
        (b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    ],
)
def test_bad_framing_is_refused(served, headers, status):
    request = b"POST /api/v1/apps.operations.next HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"

    answer = _raw(served, request)

    assert answer.startswith(b"HTTP/1.1 " + status)


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"POST /api/v1/apps.operations.next\r\n\r\n", b"400"),
        (b"POST /api/v1/apps.operations.next HTTP/2.0\r\n\r\n", b"400"),
        (b"POST /api/v1/apps.operations.next HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (
            b"POST /api/v1/apps.operations.next HTTP/1.1\r\n"
            + b"".join(b"X-H%d: v\r\n" % n for n in range(101))
            + b"\r\n",
            b"431",
        ),
    ],
)
def test_malformed_requests_are_refused(served, request_head, status):
    answer = _raw(served, request_head)

    assert answer.startswith(b"HTTP/1.1 " + status)
    assert b'{"status": "error", "error": "Bad request' in answer


def test_http_1_0_closes_after_the_answer_and_expect_continue_works(served):
    body = b'{"app_id":"helloworld","version":"v1"}'
    request = (
        b"POST /api/v1/apps.operations.next HTTP/1.0\r\n"
        b"Authorization: Bearer emulator-token\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        + body
    )

    answer = _raw(served, request)  # returns once the server closes the connection

    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n")
