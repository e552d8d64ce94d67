"""One rule for every secret: no secret from any source reaches a report or a log record."""

from __future__ import annotations

import json
import logging
import string
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr, field_validator

import tempest_sdk as tempest
from tempest_sdk._app._payloads import InputSpec, compile_source
from tempest_sdk.testing import invoke


class Props(BaseModel):
    name: str = "x"


class Settings(BaseModel):
    """The app's own configuration, as pydantic-settings would read it."""

    api_token: SecretStr
    region: str = "eu"


@dataclass
class Holder:
    settings: Settings


class Login(BaseModel):
    user: str
    password: SecretStr


class Echo(BaseModel):
    text: str


@dataclass
class Example:
    """The four secrets of one example, and how the handler fails (or not)."""

    env: str = ""
    input: str = ""
    settings: str = ""
    runtime: str = ""
    fail: bool = True


CURRENT = Example()


def vault_app() -> tempest.App:
    app = tempest.App("vault", "v1")

    @app.lifespan
    async def lifespan() -> AsyncIterator[Holder]:
        yield Holder(Settings(api_token=SecretStr(CURRENT.settings)))

    vault = app.resource("vault", description="d", properties=Props)

    @vault.action("login", description="d")
    def login(ctx: tempest.Context, input: Login, holder: Holder) -> Echo:
        fetched = ctx.mask(CURRENT.runtime)
        values = [
            ctx.env.secret("TOKEN"),
            input.password.get_secret_value(),
            holder.settings.api_token.get_secret_value(),
            fetched,
        ]
        ctx.logger.info("calling with %s", " ".join(values))
        ctx.logger.warning("calling with " + " ".join(values))
        if CURRENT.fail:
            raise RuntimeError("refused: " + " / ".join(values))
        return Echo(text=" ".join(values))

    return app


APP = vault_app()


class Collect(logging.Handler):
    """Every record as a handler would write it: message, traceback, stack."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def collected() -> Iterator[Collect]:
    handler = Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# Prefixed, so that no example is a word of the report's own JSON ("response", ...).
secret_text = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=40).map(
    lambda text: "sec-" + text
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(secret_text, min_size=4, max_size=4, unique=True), fail=st.booleans())
def test_no_secret_from_any_source_reaches_a_report_or_a_log_record(
    collected: Collect, values: list[str], fail: bool
) -> None:
    global CURRENT
    CURRENT = Example(*values, fail=fail)
    collected.lines.clear()
    report = invoke(
        APP,
        "vault",
        "login",
        external_id="v1",
        input={"user": "ada", "password": CURRENT.input},
        secrets={"TOKEN": CURRENT.env},
    )
    assert str(report.status) == ("error" if fail else "ok"), report.message
    written = json.dumps(report.model_dump(mode="json")) + "\n".join(collected.lines)
    assert "**********" in written
    for value in values:
        assert value not in written


def test_a_missing_secret_says_what_the_task_has() -> None:
    env = tempest.Context(
        task_id="t",
        app_id="a-b",
        version="v1",
        resource_type="x",
        operation="create",
    ).env
    with pytest.raises(KeyError, match="no environment variable 'TOKEN'") as info:
        env.secret("TOKEN")
    assert "settings" in str(info.value)


# -- which inputs dispatch looks through for secrets -------------------------------------


class Plain(BaseModel):
    name: str
    tags: list[str] = []
    count: int | None = None


class Keys(BaseModel):
    keys: list[SecretStr] = []


class Wrapped(BaseModel):
    """A validator of the app's own may put a secret where no annotation says so."""

    token: str

    @field_validator("token")
    @classmethod
    def hide(cls, value: str) -> str:
        return SecretStr(value)  # type: ignore[return-value]


@dataclass
class Later:
    name: str

    def __post_init__(self) -> None:
        self.name = self.name.strip()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (Plain, False),
        ({"type": "object", "properties": {"password": {"type": "string"}}}, False),
        (Login, True),
        (Keys, True),
        (Wrapped, True),
        (Later, True),
    ],
    ids=["plain-model", "raw-schema", "secret-field", "secret-list", "validator", "post-init"],
)
def test_input_specs_know_whether_their_values_may_hold_secrets(
    source: object, expected: bool
) -> None:
    compiled = compile_source(source, mode="validation", role="input")  # type: ignore[arg-type]
    assert not isinstance(compiled, list), compiled
    assert InputSpec.of(compiled, passed=True).may_hold_secrets is expected


def test_a_secret_made_by_an_input_validator_never_reaches_a_report() -> None:
    app = tempest.App("wrapped", "v1")
    thing = app.resource("thing", description="d", properties=Props)

    @thing.create
    def create(input: Wrapped) -> tempest.Resource:
        token = input.token
        assert isinstance(token, SecretStr)
        return tempest.Resource(external_id="t1", properties={"name": token.get_secret_value()})

    report = invoke(app, "thing", "create", input={"token": "hunter2-from-input"})
    text = json.dumps(report.to_wire())
    assert "hunter2-from-input" not in text and "**********" in text, text
