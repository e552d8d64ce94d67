"""The deadline of one attempt (`attempt_timeout=`): connect, send and the whole answer.

Against a real loopback server that drips a valid answer 25 bytes every 0.3 s (7.5 s in
all): no single read waits long, so only the attempt's deadline can end the call early.
"""

from __future__ import annotations

import time

import pytest

from tempest_sdk.client import (
    APIAttemptTimeoutError,
    APITimeoutError,
    AsyncTempestClient,
    TempestClient,
    TempestConfigError,
)
from tempest_sdk.client._config import DEFAULT_ATTEMPT_TIMEOUT
from tempest_sdk.runner import RetryLaterError

from .cases import HEALTH
from .conftest import ENDPOINT
from .servers import DRIP_SECONDS, FLAVOURS, GUARD, HostileServer, call_once


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_dripped_answer_fails_at_the_attempt_deadline(flavour):
    with HostileServer("drip") as server:
        started = time.monotonic()
        with pytest.raises(APIAttemptTimeoutError) as caught:
            call_once(
                flavour,
                "report_health",
                HEALTH,
                endpoint=server.url,
                attempt_timeout=1.0,
                max_retries=0,
            )
        took = time.monotonic() - started
    error = caught.value
    # Failed because of the deadline: the typed error says so, and no phase timed out
    # (each piece of the answer came 0.3 s after the last, within every phase timeout).
    assert error.attempt_timeout == 1.0
    assert isinstance(error, APITimeoutError)
    assert isinstance(error, RetryLaterError)
    assert "attempt_timeout (1 s)" in str(error)
    assert error.attempts == 1
    # The server had not finished: the call did not just wait for the whole answer.
    assert server.sent and server.sent[0] < 25 * 25
    assert took < DRIP_SECONDS - 2.0, took  # generous: the deadline is 1 s, the drip 7.5 s


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_deadline_is_retried_like_any_timeout(flavour):
    with HostileServer("drip") as server:
        with pytest.raises(APIAttemptTimeoutError) as caught:
            call_once(
                flavour,
                "report_health",
                HEALTH,
                endpoint=server.url,
                attempt_timeout=0.5,
                max_retries=1,
            )
        assert server.paths == ["/api/v1/apps.versions.health"] * 2
    assert caught.value.attempts == 2
    assert "(tried 2 times)" in str(caught.value)


@pytest.mark.parametrize("flavour", ["asyncio", "uvloop", "trio"])
def test_the_async_client_ends_a_dripped_head_at_the_deadline(flavour):
    """On async code the deadline is a cancel scope: it ends the wait wherever it is,
    here in the answer's head, which blocking code cannot interrupt."""
    with HostileServer("drip-head") as server, pytest.raises(APIAttemptTimeoutError):
        call_once(
            flavour,
            "report_health",
            HEALTH,
            endpoint=server.url,
            attempt_timeout=1.0,
            max_retries=0,
        )
    assert server.sent and server.sent[0] < 25 * 25


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_whole_answer_within_the_deadline_is_read(flavour):
    with HostileServer("drip") as server:
        answer = call_once(
            flavour,
            "report_health",
            HEALTH,
            endpoint=server.url,
            attempt_timeout=GUARD,
            max_retries=0,
        )
    assert answer.status == "ok"
    assert len(answer.message) > 500


@pytest.mark.parametrize("cls", [AsyncTempestClient, TempestClient])
def test_attempt_timeout_comes_from_the_argument_the_environment_or_the_default(cls, monkeypatch):
    assert cls(token="t", endpoint=ENDPOINT).attempt_timeout == DEFAULT_ATTEMPT_TIMEOUT == 60.0
    monkeypatch.setenv("TEMPEST_ATTEMPT_TIMEOUT", "2.5")
    assert cls(token="t", endpoint=ENDPOINT).attempt_timeout == 2.5
    assert cls(token="t", endpoint=ENDPOINT, attempt_timeout=7).attempt_timeout == 7.0
    monkeypatch.setenv("TEMPEST_ATTEMPT_TIMEOUT", "inf")
    assert cls(token="t", endpoint=ENDPOINT).attempt_timeout is None
    for bad in ("soon", "0", "-1", "nan"):
        monkeypatch.setenv("TEMPEST_ATTEMPT_TIMEOUT", bad)
        with pytest.raises(TempestConfigError, match="TEMPEST_ATTEMPT_TIMEOUT must be a positive"):
            cls(token="t", endpoint=ENDPOINT)
    monkeypatch.delenv("TEMPEST_ATTEMPT_TIMEOUT")
    for bad_value in (0, -3.0, True, "5"):
        with pytest.raises(TempestConfigError, match="attempt_timeout= must be a positive"):
            cls(token="t", endpoint=ENDPOINT, attempt_timeout=bad_value)
