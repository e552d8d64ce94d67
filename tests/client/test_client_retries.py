"""Retries: which failures, how many attempts, how long between them."""

from __future__ import annotations

import email.utils
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tempest_sdk._backoff import Backoff
from tempest_sdk.client import (
    MAX_RETRY_AFTER,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
    TempestConfigError,
)
from tempest_sdk.client._base import parse_retry_after

from .cases import CASE_IDS, CASES


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_every_method_retries_a_5xx_then_succeeds(flavour, client, router, case):
    route = router.post(case.endpoint).mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=case.answer),
        ]
    )
    result = await flavour.call(client, case.method, *case.args)
    assert result is not None
    assert route.call_count == 3
    assert len(flavour.sleeps) == 2
    # Every attempt sends the same body.
    assert len({call.request.content for call in route.calls}) == 1


RETRYABLE = [
    httpx.Response(429),
    httpx.Response(500),
    httpx.Response(502),
    httpx.Response(503),
    httpx.Response(504),
    httpx.ConnectError("refused"),
    httpx.ReadError("reset"),
    httpx.RemoteProtocolError("peer closed"),
    httpx.ConnectTimeout("t"),
    httpx.ReadTimeout("t"),
    httpx.WriteTimeout("t"),
    httpx.PoolTimeout("t"),
]


def _name(outcome: object) -> str:
    return (
        str(outcome.status_code) if isinstance(outcome, httpx.Response) else type(outcome).__name__
    )


@pytest.mark.parametrize("failure", RETRYABLE, ids=[_name(f) for f in RETRYABLE])
async def test_retryable_failures_use_every_attempt(flavour, router, failure):
    client = flavour.client(max_retries=3)
    route = router.post("/apps.operations.next")
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)
    with pytest.raises((APIStatusError, APIConnectionError)) as caught:
        await flavour.call(client, "next_task", "a", "v1")
    assert route.call_count == 4
    assert caught.value.attempts == 4
    assert len(flavour.sleeps) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_other_4xx_are_never_retried(flavour, client, router, status):
    route = router.post("/apps.operations.report").respond(status)
    with pytest.raises(APIStatusError):
        await flavour.call(client, "report", CASES[2].args[0], max_retries=5)
    assert route.call_count == 1
    assert flavour.sleeps == []


async def test_a_bad_url_scheme_from_the_transport_is_not_retried(flavour, client, router):
    route = router.post("/resources.get").mock(side_effect=httpx.UnsupportedProtocol("no"))
    with pytest.raises(APIConnectionError) as caught:
        await flavour.call(client, "get_resource", "r")
    assert not isinstance(caught.value, APITimeoutError)
    assert route.call_count == 1


async def test_max_retries_zero_is_a_single_attempt(flavour, router):
    client = flavour.client(max_retries=0)
    route = router.post("/resources.get").respond(503)
    with pytest.raises(InternalServerError):
        await flavour.call(client, "get_resource", "r")
    assert route.call_count == 1
    assert flavour.sleeps == []


async def test_per_call_max_retries_overrides_the_client(flavour, router):
    client = flavour.client(max_retries=0)
    route = router.post("/resources.get").respond(503)
    with pytest.raises(InternalServerError):
        await flavour.call(client, "get_resource", "r", max_retries=2)
    assert route.call_count == 3
    route.reset()
    with pytest.raises(InternalServerError):
        await flavour.call(client, "get_resource", "r")
    assert route.call_count == 1


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
async def test_bad_per_call_max_retries_is_refused(flavour, client, router, bad):
    route = router.post("/resources.get").respond(200)
    with pytest.raises(TempestConfigError, match="max_retries must be an integer >= 0"):
        await flavour.call(client, "get_resource", "r", max_retries=bad)
    assert route.call_count == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
async def test_delays_stay_within_the_backoff_bounds(flavour, router, seed):
    backoff = Backoff(base=0.25, cap=2.0, rng=random.Random(seed))
    client = flavour.client(max_retries=8, backoff=backoff)
    router.post("/resources.get").respond(503)
    with pytest.raises(InternalServerError):
        await flavour.call(client, "get_resource", "r")
    assert len(flavour.sleeps) == 8
    for retry, delay in enumerate(flavour.sleeps):
        assert 0.0 <= delay <= backoff.ceiling(retry)
    # The ceiling grows, then caps.
    assert [backoff.ceiling(n) for n in range(8)][-1] == 2.0


async def test_delays_are_drawn_from_the_backoff_in_order(flavour, router):
    client = flavour.client(
        max_retries=4, backoff=Backoff(base=1.0, cap=30.0, rng=random.Random(9))
    )
    router.post("/resources.get").respond(500)
    with pytest.raises(InternalServerError):
        await flavour.call(client, "get_resource", "r")
    expected = Backoff(base=1.0, cap=30.0, rng=random.Random(9))
    assert flavour.sleeps == [expected.delay(n) for n in range(4)]


@pytest.mark.parametrize(
    ("header", "delay"),
    [("3", 3.0), ("0.5", 0.5), ("0", 0.0), ("-4", 0.0), ("86400", MAX_RETRY_AFTER)],
)
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_are_honoured_and_capped(
    flavour, client, router, header, delay, status
):
    router.post("/apps.operations.next").mock(
        side_effect=[httpx.Response(status, headers={"Retry-After": header}), httpx.Response(204)]
    )
    assert await flavour.call(client, "next_task", "a", "v1") is None
    assert flavour.sleeps == [delay]


async def test_retry_after_http_date_is_honoured(flavour, client, router):
    past = email.utils.format_datetime(datetime(2001, 1, 1, tzinfo=UTC), usegmt=True)
    future = email.utils.format_datetime(datetime.now(UTC) + timedelta(days=2), usegmt=True)
    router.post("/apps.operations.next").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": past}),
            httpx.Response(429, headers={"Retry-After": future}),
            httpx.Response(204),
        ]
    )
    assert await flavour.call(client, "next_task", "a", "v1") is None
    assert flavour.sleeps == [0.0, MAX_RETRY_AFTER]


@pytest.mark.parametrize("header", ["soon", "", "nan", "inf", "Mon, 99 Foo 2024"])
async def test_unreadable_retry_after_falls_back_to_backoff(flavour, router, header):
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(5))
    client = flavour.client(backoff=backoff)
    router.post("/apps.operations.next").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": header}), httpx.Response(204)]
    )
    await flavour.call(client, "next_task", "a", "v1")
    assert len(flavour.sleeps) == 1
    assert 0.0 <= flavour.sleeps[0] <= backoff.ceiling(0)


async def test_rate_limit_after_every_attempt_raises_with_retry_after(flavour, client, router):
    route = router.post("/apps.operations.next").respond(429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimitError) as caught:
        await flavour.call(client, "next_task", "a", "v1", max_retries=2)
    assert route.call_count == 3
    assert flavour.sleeps == [2.0, 2.0]
    assert caught.value.retry_after == 2.0
    assert caught.value.attempts == 3


NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("12", 12.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Sat, 01 Jun 2024 12:00:30 GMT", 30.0),
        ("Sat, 01 Jun 2024 11:00:00 GMT", 0.0),
        ("Saturday, 01-Jun-24 12:01:00 GMT", 60.0),
        ("Sat, 01 Jun 2024 12:00:10", 10.0),
        ("tomorrow", None),
        ("NaN", None),
        ("-inf", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected
