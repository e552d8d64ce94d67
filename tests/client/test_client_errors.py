"""Every method maps every failure to its typed error, with a message that helps."""

from __future__ import annotations

import httpx
import pytest

from tempest_sdk import TempestError
from tempest_sdk.client import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestRejectedError,
)

from .cases import CASE_IDS, CASES

STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, RequestRejectedError),
    (422, RequestRejectedError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, InternalServerError),
]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES, ids=[str(s) for s, _ in STATUS_CLASSES])
async def test_each_status_raises_its_class(flavour, client, router, case, status, cls):
    router.post(case.endpoint).respond(
        status,
        json={"status": "error", "error": "task not found"},
        headers={"x-request-id": "req-123"},
    )
    with pytest.raises(cls) as caught:
        await flavour.call(client, case.method, *case.args, max_retries=0)
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, APIStatusError)
    assert isinstance(error, APIError)
    assert isinstance(error, TempestError)
    assert error.status_code == status
    assert error.error == "task not found"
    assert error.body == {"status": "error", "error": "task not found"}
    assert error.request_id == "req-123"
    assert error.endpoint == case.endpoint
    assert error.attempts == 1
    message = str(error)
    assert f"POST {case.endpoint} answered {status}" in message
    assert 'server said: "task not found"' in message
    assert "req-123" in message


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    ("raised", "cls"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), APIConnectionError),
        (httpx.RemoteProtocolError("peer closed connection"), APIConnectionError),
        (httpx.ReadError("connection reset"), APIConnectionError),
        (httpx.ConnectTimeout("timed out"), APITimeoutError),
        (httpx.ReadTimeout("timed out"), APITimeoutError),
    ],
    ids=["connect", "protocol", "read", "connect-timeout", "read-timeout"],
)
async def test_each_transport_failure_raises_its_class(flavour, client, router, case, raised, cls):
    router.post(case.endpoint).mock(side_effect=raised)
    with pytest.raises(cls) as caught:
        await flavour.call(client, case.method, *case.args, max_retries=0)
    assert type(caught.value) is cls
    assert caught.value.endpoint == case.endpoint
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert case.endpoint in str(caught.value)


async def test_timeout_says_which_phase(flavour, client, router):
    router.post("/resources.get").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(APITimeoutError, match=r"timed out while waiting for the answer.*timeout="):
        await flavour.call(client, "get_resource", "r", max_retries=0)


async def test_timeout_is_a_connection_error(flavour, client, router):
    router.post("/resources.get").mock(side_effect=httpx.PoolTimeout("pool"))
    with pytest.raises(APIConnectionError, match="waiting for a free connection"):
        await flavour.call(client, "get_resource", "r", max_retries=0)


async def test_401_says_how_to_set_another_token(flavour, client, router):
    router.post("/apps.operations.next").respond(401, json={"status": "error", "error": "bad"})
    with pytest.raises(AuthenticationError) as caught:
        await flavour.call(client, "next_task", "a", "v1")
    message = str(caught.value)
    assert "token was rejected" in message
    for way in ("TEMPEST_TOKEN", "TEMPEST_TOKEN_FILE", "token="):
        assert way in message


async def test_404_on_report_says_the_task_may_be_unknown(flavour, client, router):
    router.post("/apps.operations.report").respond(404, json={"status": "error", "error": "no"})
    with pytest.raises(NotFoundError, match="task may be unknown"):
        await flavour.call(client, "report", CASES[2].args[0])


async def test_rate_limit_error_carries_retry_after(flavour, client, router):
    router.post("/apps.operations.next").respond(429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitError) as caught:
        await flavour.call(client, "next_task", "a", "v1", max_retries=0)
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("content", "body", "error"),
    [
        (b"", None, None),
        (b"upstream connect error", "upstream connect error", None),
        (b'{"message": "nope"}', {"message": "nope"}, None),
        (b'["x"]', ["x"], None),
        (b'{"status": "error", "error": 42}', {"status": "error", "error": 42}, None),
    ],
    ids=["empty", "text", "other-json", "array", "error-not-text"],
)
async def test_error_bodies_that_are_not_error_responses(
    flavour, client, router, content, body, error
):
    router.post("/resources.get").respond(502, content=content)
    with pytest.raises(InternalServerError) as caught:
        await flavour.call(client, "get_resource", "r", max_retries=0)
    assert caught.value.body == body
    assert caught.value.error is error
    assert caught.value.request_id is None
    assert "server said" not in str(caught.value)


async def test_long_server_text_is_cut_in_the_message(flavour, client, router):
    router.post("/resources.get").respond(400, json={"status": "error", "error": "x" * 5000})
    with pytest.raises(BadRequestError) as caught:
        await flavour.call(client, "get_resource", "r")
    assert len(str(caught.value)) < 1000
    assert caught.value.error == "x" * 5000


async def test_message_counts_attempts_after_retries(flavour, client, router):
    router.post("/resources.get").respond(503)
    with pytest.raises(InternalServerError, match="after 3 attempts") as caught:
        await flavour.call(client, "get_resource", "r", max_retries=2)
    assert caught.value.attempts == 3


async def test_status_errors_are_not_chained_to_http_exceptions(flavour, client, router):
    router.post("/resources.get").respond(500)
    with pytest.raises(InternalServerError) as caught:
        await flavour.call(client, "get_resource", "r", max_retries=0)
    assert caught.value.__cause__ is None
