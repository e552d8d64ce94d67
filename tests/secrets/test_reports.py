"""Reports carry no declared secret: operation results (properties included), listed
pages, action outputs, health reports (returned and raised), error messages, and the
report of a task that cannot be read. On asyncio and trio, in every encoding."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import anyio
import pytest
from pydantic import BaseModel, SecretStr

import tempest_sdk as tempest
from tempest_sdk.models import MalformedTaskError, parse_task
from tempest_sdk.runner import Runner
from tempest_sdk.testing import ainvoke

from ..runner.fakes import FAST, FakeApp, FakeSource, wait_until
from .conftest import SECRET, SETTINGS_SECRET

ENCODINGS = {
    "raw": lambda s: s,
    "quote": lambda s: quote(s, safe=""),
    "quote_plus": quote_plus,
    "json": lambda s: json.dumps({"k": s})[6:-1],
    "repr": lambda s: repr({"k": "C:\\keys\\" + s})[6:-1],
    "base64": lambda s: base64.b64encode(f"user:{s}".encode()).decode(),
}


class Settings(BaseModel):
    api_key: SecretStr


@dataclass
class State:
    settings: Settings


def leaky_app(encoding: str) -> tempest.App:
    """An app whose handlers echo secrets, encoded, on every road a report takes."""
    encode = ENCODINGS[encoding]
    app = tempest.App("leaky", "v1")
    thing = app.resource("thing", description="d", properties={"type": "object"})

    @app.lifespan
    async def lifespan() -> AsyncIterator[State]:
        yield State(Settings(api_key=SecretStr(SETTINGS_SECRET)))

    @thing.create
    async def create(ctx: tempest.Context, settings: Settings) -> tempest.Resource:
        variable = ctx.env.secret("API_TOKEN")
        return tempest.Resource(
            external_id="t1",
            display_name=f"made with {encode(variable)}",
            properties={
                "url": f"https://svc/?key={encode(variable)}",
                "dsn": f"postgres://u:{encode(settings.api_key.get_secret_value())}@db/x",
            },
        )

    @thing.list
    async def listing(settings: Settings) -> tempest.Page:
        key = encode(settings.api_key.get_secret_value())
        return tempest.Page(
            resources=[tempest.Resource(external_id="t2", properties={"note": key})],
            next=key,
        )

    @thing.update
    async def update(ctx: tempest.Context) -> tempest.Resource:
        raise RuntimeError(f"401 from https://svc/?api_key={encode(ctx.env.secret('API_TOKEN'))}")

    @thing.action("echo", description="Echo a secret.")
    async def echo(ctx: tempest.Context) -> dict[str, Any]:
        return {"said": encode(ctx.env.secret("API_TOKEN"))}

    @thing.health_check
    async def health(settings: Settings) -> tempest.Health:
        key = settings.api_key.get_secret_value()
        return tempest.Health.disrupted(f"401: the key {encode(key)} was refused")

    return app


def raising_health_app() -> tempest.App:
    app = tempest.App("raising", "v1")
    thing = app.resource("thing", description="d", properties={"type": "object"})

    @app.lifespan
    async def lifespan() -> AsyncIterator[State]:
        yield State(Settings(api_key=SecretStr(SETTINGS_SECRET)))

    @thing.health_check
    async def health(ctx: tempest.Context, settings: Settings) -> tempest.Health:
        masked_here = ctx.mask("mk-" + "Qw3Er5" * 3)
        raise PermissionError(f"{settings.api_key.get_secret_value()} / {masked_here}")

    return app


def leaked(value: object) -> list[str]:
    text = json.dumps(value) if not isinstance(value, str) else value
    return [
        name
        for name, encode in ENCODINGS.items()
        for secret in (SECRET, SETTINGS_SECRET, "mk-" + "Qw3Er5" * 3)
        if encode(secret) in text or secret in text
    ]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_no_report_carries_a_secret(backend: str, encoding: str) -> None:
    app = leaky_app(encoding)
    secrets = {"API_TOKEN": SECRET}

    async def scenario() -> list[Any]:
        async with app.serving():
            reports = [
                await ainvoke(app, "thing", "create", secrets=secrets),
                await ainvoke(app, "thing", "list"),
                await ainvoke(app, "thing", "update", external_id="t1", secrets=secrets),
                await ainvoke(app, "thing", "echo", external_id="t1", secrets=secrets),
            ]
            health = await app.check_health()
        return [*(report.to_wire() for report in reports), health.to_wire() if health else None]

    create, listing, update, echo, health = anyio.run(scenario, backend=backend)
    for wire in (create, listing, update, echo, health):
        assert leaked(wire) == [], wire
    assert create["status"] == "ok" and "**********" in json.dumps(create)
    assert listing["status"] == "ok" and "**********" in listing["response"]["next"]
    assert update["status"] == "error" and "api_key=" in update["message"]
    assert "**********" in update["message"]
    assert echo["status"] == "ok" and "**********" in echo["response"]["output"]["said"]
    message = health["health_reports"][0]["message"]
    assert message.startswith("401: the key ") and "**********" in message


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_raised_health_check_carries_no_secret(backend: str) -> None:
    app = raising_health_app()

    async def scenario() -> Any:
        return await app.check_health()

    health = anyio.run(scenario, backend=backend)
    assert health is not None
    [item] = health.health_reports
    assert item.status == "disrupted"
    assert item.message == "health check failed: PermissionError: ********** / **********"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("where", ["request_type", "operation"])
def test_a_task_that_cannot_be_read_is_reported_without_its_secrets(
    backend: str, where: str
) -> None:
    """A secret value sent as the request type or the operation: the error report, and
    the runner's log, name it masked."""
    owner = {"email": "a@example.com", "name": "A", "type": "user"}
    request: dict[str, Any] = {
        "request_type": "execute_resource_operation",
        "operation": "create",
        "resource": {"type": "thing", "external_id": "", "display_name": ""},
        "environment_variables": [{"name": "API_TOKEN", "value": SECRET, "type": "secret"}],
    }
    request[where] = SECRET
    raw = {
        "task_id": "t-hostile",
        "task": request,
        "metadata": {"owners": [owner], "author": owner, "project_id": "p", "project_name": "P"},
    }
    with pytest.raises(MalformedTaskError) as caught:
        parse_task(raw)
    assert caught.value.sensitive == (SECRET,)
    app = FakeApp()
    source = FakeSource()
    source.push(app.app_id, app.version, caught.value)

    async def scenario() -> None:
        async with Runner(app, source, **FAST):
            await wait_until(lambda: len(source.acked) == 1, "the error report")

    anyio.run(scenario, backend=backend)
    [report] = source.acked
    assert report.status == "error" and report.task_id == "t-hostile"
    assert SECRET not in report.message and "**********" in report.message


FETCHED = "ft-" + "Nn6Yu8" * 3
INPUT_SECRET = "in-" + "Gg7Rt1" * 3


class NewThing(BaseModel):
    password: SecretStr


def masking_app() -> tempest.App:
    """Handlers that echo a secret input field and a value they registered with
    `ctx.mask`, on every kind of report."""
    app = tempest.App("masking", "v1")
    thing = app.resource("thing", description="d", properties={"type": "object"})

    @thing.create
    async def create(ctx: tempest.Context, input: NewThing) -> tempest.Resource:
        fetched = ctx.mask(FETCHED)
        return tempest.Resource(
            external_id="t1",
            properties={"dsn": f"u:{input.password.get_secret_value()}@db", "tok": fetched},
        )

    @thing.list
    async def listing(ctx: tempest.Context) -> tempest.Page:
        fetched = ctx.mask(FETCHED)
        return tempest.Page(resources=[tempest.Resource(external_id=fetched)], next=fetched)

    @thing.action("rotate", description="Rotate.")
    async def rotate(ctx: tempest.Context, input: NewThing) -> dict[str, Any]:
        return {"old": input.password.get_secret_value(), "new": ctx.mask(FETCHED)}

    @thing.update
    async def update(ctx: tempest.Context, input: NewThing) -> tempest.Resource:
        raise RuntimeError(f"{input.password.get_secret_value()} {ctx.mask(FETCHED)}")

    return app


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_secret_inputs_and_masked_values_never_reach_a_report(backend: str) -> None:
    app = masking_app()
    given = {"password": INPUT_SECRET}

    async def scenario() -> list[dict[str, Any]]:
        reports = [
            await ainvoke(app, "thing", "create", input=given),
            await ainvoke(app, "thing", "list"),
            await ainvoke(app, "thing", "rotate", external_id="t1", input=given),
            await ainvoke(app, "thing", "update", external_id="t1", input=given),
        ]
        return [report.to_wire() for report in reports]

    for wire in anyio.run(scenario, backend=backend):
        text = json.dumps(wire)
        assert INPUT_SECRET not in text and FETCHED not in text, wire
        assert "**********" in text
