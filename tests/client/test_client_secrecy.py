"""The token never shows: not in reprs, not in exceptions, not in logs. Nor do bodies."""

from __future__ import annotations

import logging
import re
import traceback

import httpx
import pytest

from tempest_sdk.client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    TempestConfigError,
)
from tempest_sdk.client._config import Secret

from .cases import CASE_IDS, CASES, REPORTS, TASK_ANSWERS
from .conftest import TOKEN


def _everything_about(error: BaseException) -> str:
    """Every text a logger, a traceback printer or a debugger could show of an error."""
    shown = [str(error), repr(error), repr(error.args), repr(vars(error))]
    shown += traceback.format_exception(error)
    return "\n".join(shown)


async def test_client_repr_and_attributes_hide_the_token(flavour, client):
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)
    assert TOKEN not in repr(vars(client))
    assert repr(client) == f"<{flavour.cls.__name__} endpoint='http://127.0.0.1:9/api/v1'>"


def test_secret_hides_itself():
    secret = Secret("abc-SECRET")
    assert "abc-SECRET" not in repr(secret)
    assert "abc-SECRET" not in str(secret)
    assert "abc-SECRET" not in f"{secret}"
    assert secret.reveal() == "abc-SECRET"


FAILURES = [
    httpx.Response(400, json={"status": "error", "error": "bad"}),
    httpx.Response(401, json={"status": "error", "error": "bad token"}),
    httpx.Response(403),
    httpx.Response(404),
    httpx.Response(409),
    httpx.Response(429, headers={"Retry-After": "1"}),
    httpx.Response(500, text="oops"),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("timed out"),
    httpx.Response(200, json={"unexpected": True}),
]
EXPECTED = [
    *[APIStatusError] * 7,
    APIConnectionError,
    APITimeoutError,
    APIResponseValidationError,
]


@pytest.mark.parametrize(
    ("failure", "cls"),
    list(zip(FAILURES, EXPECTED, strict=True)),
    ids=["400", "401", "403", "404", "409", "429", "500", "connect", "timeout", "unreadable"],
)
async def test_no_error_shows_the_token(flavour, client, router, failure, cls):
    route = router.post("/resources.get")
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)
    with pytest.raises(cls) as caught:
        await flavour.call(client, "get_resource", "r", max_retries=1)
    assert TOKEN not in _everything_about(caught.value)


@pytest.mark.parametrize(
    "token",
    [TOKEN + " trailing-word", TOKEN + "\x00", "\u00e9" + TOKEN],
    ids=["space", "control", "non-ascii"],
)
def test_config_errors_never_quote_the_token(flavour, token):
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(token=token, endpoint="http://127.0.0.1:9")
    assert TOKEN not in _everything_about(caught.value)


def test_token_file_errors_never_quote_the_token(flavour, monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + " and more")
    monkeypatch.setenv("TEMPEST_TOKEN_FILE", str(token_file))
    with pytest.raises(TempestConfigError) as caught:
        flavour.cls(endpoint="http://127.0.0.1:9")
    assert TOKEN not in _everything_about(caught.value)


LINE = re.compile(
    r"^POST (?P<path>/[a-z.]+) -> (?P<status>\d{3}) in \d+\.\d ms "
    r"\(attempt (?P<attempt>\d+) of (?P<total>\d+)\)$"
)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_each_call_logs_method_path_status_duration_attempt(
    flavour, client, router, caplog, case
):
    caplog.set_level(logging.DEBUG)
    router.post(case.endpoint).mock(
        side_effect=[httpx.Response(502), httpx.Response(200, json=case.answer)]
    )
    await flavour.call(client, case.method, *case.args)

    ours = [r for r in caplog.records if r.name == "tempest_sdk.client"]
    assert all(r.levelno == logging.DEBUG for r in ours)
    lines = [r.getMessage() for r in ours]
    first, retry, second = lines
    assert LINE.match(first).groupdict() == {
        "path": case.endpoint,
        "status": "502",
        "attempt": "1",
        "total": "4",
    }
    assert retry.startswith(f"retrying POST {case.endpoint} in ")
    assert "after 502 (attempt 2 of 4)" in retry
    assert LINE.match(second).groupdict()["status"] == "200"
    # %-style: the message template is constant, the values are arguments.
    assert all("%" in r.msg for r in ours)


async def test_logs_never_hold_the_token_or_bodies(flavour, client, router, caplog):
    caplog.set_level(logging.DEBUG)
    secret_message = "report-body-SECRET"
    router.post("/apps.operations.next").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(200, json=TASK_ANSWERS["create"]),
        ]
    )
    router.post("/apps.operations.report").respond(
        401, json={"status": "error", "error": "answer-body-SECRET"}
    )
    await flavour.call(client, "next_task", "helloworld", "v1")
    report = REPORTS["error"].model_copy(update={"message": secret_message})
    with pytest.raises(APIStatusError):
        await flavour.call(client, "report", report)

    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "tempest_sdk.client" in {r.name for r in caplog.records}
    assert "failed in" in text
    assert "ConnectError" in text
    for secret in (TOKEN, secret_message, "answer-body-SECRET", "sk-live-SECRET", "ext-1"):
        assert secret not in text
