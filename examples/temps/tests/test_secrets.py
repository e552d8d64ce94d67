"""An environment variable's value goes to Temps and nowhere else: not into properties,
reports, log records or any other request, although the fake sends it back."""

from __future__ import annotations

import logging

import pytest

import tempest_sdk as tempest
from tempest_sdk.models import TaskReport
from tempest_sdk.testing import invoke

from .fake_temps import FAKE_TOKEN, FakeTemps

FIRST = "s3cr3t-first-value-7f3a9c"
SECOND = "s3cr3t-second-value-0b81de"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the records say: messages, arguments and tracebacks."""
    return "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {r.__dict__!r}" for r in caplog.records
    )


def test_a_variable_value_reaches_temps_only(
    wired: tempest.App, fake: FakeTemps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reports: list[TaskReport] = [
        invoke(
            wired,
            "environment_variable",
            "create",
            input={"project_id": 2, "key": "API_KEY", "value": FIRST, "environment_ids": [3]},
        ),
        invoke(wired, "environment_variable", "read", external_id="2/4"),
        invoke(wired, "environment_variable", "update", external_id="2/4", input={"value": SECOND}),
        invoke(wired, "environment_variable", "list", next=""),
        invoke(wired, "environment_variable", "list", next="1.1.1"),
        # Failures carry the input too: a taken key (409) and unknown environments (422).
        invoke(
            wired,
            "environment_variable",
            "create",
            input={"project_id": 2, "key": "API_KEY", "value": FIRST},
        ),
        invoke(
            wired,
            "environment_variable",
            "create",
            input={"project_id": 2, "key": "OTHER", "value": FIRST, "environment_ids": [1]},
        ),
        invoke(wired, "environment_variable", "delete", external_id="2/4"),
    ]
    assert [r.status for r in reports] == ["ok"] * 5 + ["error"] * 2 + ["ok"]
    assert reports[4].resources[-1].properties == {
        "project_id": 2,
        "variable_id": 4,
        "key": "API_KEY",
        "environment_ids": [3],
        "include_in_preview": False,
    }

    # It did reach Temps, which answered with it (as Temps does) ...
    assert any(FIRST.encode() in r.body for r in fake.requests)
    assert any(SECOND.encode() in r.body for r in fake.requests)
    # ... but nowhere else: reports, log records, other requests.
    for secret in (FIRST, SECOND, FAKE_TOKEN):
        assert all(secret not in r.to_json().decode() for r in reports)
        assert secret not in logged(caplog)
    assert not [r for r in fake.requests for v in (FIRST, SECOND) if v in r.path + r.query]
    carrying = [(r.method, r.path) for r in fake.requests if FIRST.encode() in r.body]
    assert carrying == [
        ("POST", "/api/projects/2/env-vars"),
        ("POST", "/api/projects/2/env-vars"),
        ("POST", "/api/projects/2/env-vars"),
    ]
    assert [(r.method, r.path) for r in fake.requests if SECOND.encode() in r.body] == [
        ("PUT", "/api/projects/2/env-vars/4")
    ]
    # The app never asks Temps for a value.
    assert not [r for r in fake.requests if r.path.endswith("/value")]
    assert caplog.records, "the SDK logs the failures: the check above saw records"


def test_a_value_is_masked_where_a_report_would_quote_it(wired: tempest.App) -> None:
    # A key that the schema refuses: the report lists the problem, never the value.
    report = invoke(
        wired,
        "environment_variable",
        "create",
        input={"project_id": 2, "key": FIRST, "value": FIRST},
    )
    assert report.status == "error"
    assert FIRST not in report.to_json().decode()
