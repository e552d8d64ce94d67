"""The receiver's rules, without a server: Tempo's two auth modes, the body, the settings."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from starlette.datastructures import Headers
from tempo_events_harness import (
    API_KEY,
    API_KEY_HEADER,
    PASSWORD,
    USERNAME,
    tempo_service,
    tempo_store,
)

import tempest_sdk as tempest

Refused = tempo_service.Refused
BadDelivery = tempo_service.BadDelivery


def settings(**values: Any) -> tempo_service.ReceiverSettings:
    defaults = {
        "basic_username": USERNAME,
        "basic_password": PASSWORD,
        "api_key_header": API_KEY_HEADER,
        "api_key": API_KEY,
    }
    # load_settings: values win over the environment, and a missing /run/secrets is fine.
    return tempest.load_settings(tempo_service.ReceiverSettings, **(defaults | values))


def authenticate(headers: dict[str, str], **values: Any) -> str:
    mode: str = tempo_service.authenticate(Headers(headers), settings(**values))
    return mode


def basic(value: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(value.encode()).decode()}


def refusal(headers: dict[str, str], **values: Any) -> str:
    with pytest.raises(Refused) as caught:
        authenticate(headers, **values)
    return str(caught.value)


def test_both_of_tempos_auth_modes_are_accepted() -> None:
    assert authenticate(basic(f"{USERNAME}:{PASSWORD}")) == "basic"
    assert authenticate({API_KEY_HEADER.lower(): API_KEY}) == "api_key"
    # The scheme and the header name are case-insensitive; a password may hold colons.
    token = base64.b64encode(b"u:p:with:colons").decode()
    assert (
        authenticate(
            {"Authorization": f"basic {token}"}, basic_username="u", basic_password="p:with:colons"
        )
        == "basic"
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (basic(f"{USERNAME}:wrong"), "wrong Basic username or password"),
        (basic(f"someone:{PASSWORD}"), "wrong Basic username or password"),
        (basic(f"{USERNAME}{PASSWORD}"), "wrong Basic username or password"),
        ({"authorization": "Basic %%%"}, "not valid Basic credentials"),
        ({"authorization": "Bearer abc"}, "uses 'Bearer', not Basic"),
        ({API_KEY_HEADER: "wrong-key"}, f"the {API_KEY_HEADER} header does not hold the API key"),
        ({}, f"no credentials: send the {API_KEY_HEADER} header or Authorization: Basic"),
    ],
)
def test_wrong_or_missing_credentials_are_refused_saying_why(
    headers: dict[str, str], reason: str
) -> None:
    message = refusal(headers)
    assert reason in message
    assert PASSWORD not in message
    assert API_KEY not in message


def test_only_the_configured_modes_count() -> None:
    # Basic only: a key header proves nothing.
    assert "send Authorization: Basic" in refusal({API_KEY_HEADER: API_KEY}, api_key="")
    # API key only: Basic credentials prove nothing.
    message = refusal(basic(f"{USERNAME}:{PASSWORD}"), basic_username="", basic_password="")
    assert message == f"no credentials: send the {API_KEY_HEADER} header"


def parse(
    payload: object, headers: dict[str, str] | None = None, content_type: str = "application/json"
) -> tempo_store.NewEvent:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    given = {"x-request-id": "evt-1"} if headers is None else headers
    return tempo_service.parse_event(Headers(given), body, "basic", content_type)


def test_the_metadata_block_is_read_when_present() -> None:
    event = parse(
        {
            "batch_run_id": 7,
            "Metadata": {
                "OrganizationID": 42,  # a number where a string is documented: kept as text
                "OrganizationName": "Acme Pharma",
                "EventType": "Batch",
                "EventTrigger": "batch_run_status",
                "Subscriber": "partner-endpoint",
                "CreatedBy": "System Auto Execution",
                "SourceEnvironment": "production",
                "CreationDateTime": "2026-06-18T00:00:00.000Z",
                "SomethingNew": "kept in the payload",
            },
        },
        {"x-request-id": "evt-1", "x-correlation-id": "evt-1"},
        content_type="application/json; charset=utf-8",
    )
    assert (event.request_id, event.correlation_id, event.auth) == ("evt-1", "evt-1", "basic")
    assert event.has_metadata
    assert (event.event_type, event.event_trigger, event.subscriber) == (
        "Batch",
        "batch_run_status",
        "partner-endpoint",
    )
    assert event.organization_name == "Acme Pharma"
    assert event.created_by == "System Auto Execution"
    assert event.source_environment == "production"
    assert event.created_at == "2026-06-18T00:00:00.000Z"
    assert event.payload["Metadata"]["SomethingNew"] == "kept in the payload"


def test_without_metadata_the_raw_event_is_kept_and_the_id_may_come_from_the_body() -> None:
    event = parse({"material": "M-1", "quantity": 2}, {"x-request-id": "evt-2"})
    assert not event.has_metadata
    assert (event.event_type, event.event_trigger, event.correlation_id) == ("", "", "evt-2")
    assert parse({"event_id": "from-body"}, {}).request_id == "from-body"
    assert parse({"EventID": 1234}, {}).request_id == "1234"


@pytest.mark.parametrize(
    ("payload", "headers", "content_type", "status", "message"),
    [
        ({"a": 1}, None, "text/plain", 415, "Content-Type is 'text/plain'; send application/json"),
        ({"a": 1}, None, "", 415, "Content-Type is 'missing'"),
        (b"{not json", None, "application/json", 400, "the body is not JSON: "),
        (b"\xff\xfe", None, "application/json", 400, "not UTF-8"),
        ([1, 2], None, "application/json", 422, "the body is a JSON list, not an object"),
        ({"Metadata": "x"}, None, "application/json", 422, "Metadata must be an object"),
        (
            {"Metadata": {"EventType": {"nested": True}}},
            None,
            "application/json",
            422,
            "Metadata.EventType: Input should be a valid string",
        ),
        ({"a": 1}, {}, "application/json", 400, "no X-Request-Id header and no event_id"),
        ({"a": 1}, {"x-request-id": "x" * 201}, "application/json", 400, "at most 200"),
    ],
)
def test_deliveries_that_cannot_be_stored_get_a_status_and_a_reason(
    payload: object, headers: dict[str, str] | None, content_type: str, status: int, message: str
) -> None:
    with pytest.raises(BadDelivery) as caught:
        parse(payload, headers, content_type)
    assert caught.value.status == status
    assert message in str(caught.value)


def test_settings_need_one_complete_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BASIC_USERNAME", "BASIC_PASSWORD", "API_KEY_HEADER", "API_KEY"):
        monkeypatch.delenv(f"TEMPO_{name}", raising=False)
    with pytest.raises(tempest.SettingsError) as none:
        tempo_service.load_receiver_settings()
    assert "no credentials for Tempo: set TEMPO_BASIC_USERNAME and TEMPO_BASIC_PASSWORD" in str(
        none.value
    )

    monkeypatch.setenv("TEMPO_BASIC_PASSWORD", PASSWORD)
    monkeypatch.setenv("TEMPO_API_KEY_HEADER", "Authorization")
    with pytest.raises(tempest.SettingsError) as half:
        tempo_service.load_receiver_settings()
    message = str(half.value)
    assert "Basic auth needs a username and a password: set TEMPO_BASIC_USERNAME too" in message
    assert "TEMPO_API_KEY_HEADER cannot be Authorization: Tempo sets that header" in message
    assert PASSWORD not in message
    assert PASSWORD not in repr(half.value)

    monkeypatch.setenv("TEMPO_BASIC_USERNAME", USERNAME)
    monkeypatch.setenv("TEMPO_API_KEY_HEADER", "X Bad Header")
    monkeypatch.setenv("TEMPO_API_KEY", API_KEY)
    with pytest.raises(tempest.SettingsError) as bad_header:
        tempo_service.load_receiver_settings()
    assert "'X Bad Header' is not an HTTP header name" in str(bad_header.value)

    monkeypatch.setenv("TEMPO_API_KEY_HEADER", API_KEY_HEADER)
    loaded = tempo_service.load_receiver_settings()
    assert loaded.basic
    assert loaded.api_key_enabled
    assert PASSWORD not in repr(loaded)
    assert API_KEY not in repr(loaded)
