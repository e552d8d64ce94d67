"""`Context` and `Environment`: what a handler can read, and what can never leak."""

from __future__ import annotations

import logging

import pytest

import tempest_sdk as tempest
from tempest_sdk.models import EnvironmentVariable, EnvironmentVariableType, TaskMetadata

from .conftest import METADATA


def variables() -> list[EnvironmentVariable]:
    return [
        EnvironmentVariable(name="REGION", value="eu-west-1", type="variable"),
        EnvironmentVariable(name="TOKEN", value="tok-123", type="secret"),
        EnvironmentVariable(name="CERT", value="cert-456", type="certificate"),
        EnvironmentVariable(name="REGION", value="us-east-1", type="variable"),
        EnvironmentVariable(name="PUB", value="pub-789", type="public_key"),
    ]


def test_environment_maps_plain_variables_only() -> None:
    env = tempest.Environment(variables())
    assert dict(env) == {"REGION": "us-east-1"}  # a later duplicate wins
    assert len(env) == 1
    assert "TOKEN" not in env
    assert env.get("TOKEN") is None
    with pytest.raises(
        KeyError, match=r"'TOKEN' is a secret, not a plain variable.*secret\('TOKEN'\)"
    ):
        env["TOKEN"]
    with pytest.raises(KeyError):
        env["MISSING"]


def test_secrets_are_read_on_purpose() -> None:
    env = tempest.Environment(variables())
    assert env.secret("TOKEN") == "tok-123"
    assert env.secret("CERT") == "cert-456"
    assert env.secret("REGION") == "us-east-1"
    with pytest.raises(KeyError):
        env.secret("MISSING")
    assert env.types == {
        "REGION": EnvironmentVariableType.VARIABLE,
        "TOKEN": EnvironmentVariableType.SECRET,
        "CERT": EnvironmentVariableType.CERTIFICATE,
        "PUB": EnvironmentVariableType.PUBLIC_KEY,
    }


def test_no_value_in_reprs() -> None:
    env = tempest.Environment(variables())
    text = f"{env!r} {env} {env.types}"
    for value in ("tok-123", "cert-456", "pub-789", "us-east-1"):
        assert value not in text
    assert "TOKEN" in repr(env)


def test_context_attributes_and_logger(caplog: pytest.LogCaptureFixture) -> None:
    ctx = tempest.Context(
        task_id="t-1",
        app_id="hello",
        version="v1",
        resource_type="example",
        operation="action",
        action="paint",
        metadata=TaskMetadata.model_validate(METADATA),
        environment_variables=variables(),
    )
    assert ctx.metadata.project_id == "proj-1"
    assert ctx.env.secret("TOKEN") == "tok-123"
    assert ctx.env is ctx.env  # built once
    assert repr(ctx) == (
        "Context(task_id='t-1', resource_type='example', operation='action', action='paint')"
    )
    with caplog.at_level(logging.INFO, logger="tempest_sdk.app"):
        ctx.logger.info("painted %s", "it")
    (record,) = caplog.records
    assert record.name == "tempest_sdk.app"
    assert record.getMessage() == "painted it"
    # The runner's vocabulary: an action task names its action, never an operation.
    fields = {
        name: getattr(record, name, None)
        for name in ("app_version", "task_id", "task_kind", "resource_type", "operation", "action")
    }
    assert fields == {
        "app_version": "v1",
        "task_id": "t-1",
        "task_kind": "action",
        "resource_type": "example",
        "operation": None,
        "action": "paint",
    }
    assert ctx.logger is ctx.logger


def test_context_without_a_task() -> None:
    ctx = tempest.Context(
        task_id="", app_id="a", version="v1", resource_type="x", operation="health_check"
    )
    assert dict(ctx.env) == {}
    with pytest.raises(LookupError, match="no task metadata"):
        ctx.metadata  # noqa: B018
