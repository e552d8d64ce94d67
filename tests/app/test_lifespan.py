"""An app's lifespan: entered once around serving, by the runner and by the testing kit."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.models import ReportStatus
from tempest_sdk.runner import Runner, RunnerStartupError
from tempest_sdk.testing import ainvoke, invoke

from ..runner.fakes import FAST, FakeSource, make_task, wait_until


class Props(BaseModel):
    name: str = "x"


def started(log: list[str]) -> int:
    return sum(entry.startswith("task ") for entry in log)


class Shared:
    """A stand-in for a client with a connection pool: it records its own life."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.closed = False


def shop(log: list[str], *, fail: str = "") -> tempest.App:
    """An app with resource type `example` (the fake tasks' type) and a lifespan."""
    app = tempest.App("shop", "v1")
    example = app.resource("example", description="d", properties=Props)

    @app.lifespan
    async def lifespan(app: tempest.App) -> AsyncIterator[Shared]:
        log.append("enter")
        if fail == "enter":
            raise ConnectionError("the backend refused the pool")
        shared = Shared(log)
        try:
            yield shared
        finally:
            shared.closed = True
            log.append("exit")
            if fail == "exit":
                raise RuntimeError("closing failed")

    @example.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        shared: Shared = ctx.state
        assert not shared.closed
        log.append(f"task {ctx.task_id} with {id(shared)}")
        await anyio.sleep(0.05)
        return tempest.Resource(external_id=ctx.task_id, display_name="x", properties={})

    return app


async def test_ainvoke_enters_the_lifespan_around_its_task() -> None:
    log: list[str] = []
    app = shop(log)
    report = await ainvoke(app, "example", "create")
    assert report.status is ReportStatus.OK
    assert len(log) == 3
    assert log[0] == "enter" and log[1].startswith("task ") and log[2] == "exit"
    with pytest.raises(LookupError, match="not serving"):
        _ = app.state


async def test_one_serving_block_shares_one_client_over_several_calls() -> None:
    log: list[str] = []
    app = shop(log)
    async with app.serving() as shared:
        assert app.state is shared
        await ainvoke(app, "example", "create")
        await ainvoke(app, "example", "create")
    assert log[0] == "enter" and log[-1] == "exit"
    assert log.count("enter") == 1
    assert [entry.split(" with ")[1] for entry in log[1:3]] == [str(id(shared))] * 2


def test_invoke_enters_the_lifespan_in_its_own_loop() -> None:
    log: list[str] = []
    app = shop(log)
    assert invoke(app, "example", "create").status is ReportStatus.OK
    assert invoke(app, "example", "create").status is ReportStatus.OK
    assert log.count("enter") == 2 and log.count("exit") == 2


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_runner_enters_before_the_first_poll_and_exits_after_the_drain(backend) -> None:
    log: list[str] = []
    app = shop(log)
    source = FakeSource()
    polls_at_enter: list[int] = []
    original = app._lifespan

    @contextlib.asynccontextmanager
    async def watched(app: tempest.App) -> AsyncIterator[Any]:
        polls_at_enter.append(source.next_calls.total())
        async with contextlib.asynccontextmanager(original)(app) as state:  # type: ignore[arg-type]
            yield state

    app._lifespan = watched

    async def scenario() -> None:
        runner = Runner(app, source, concurrency=4, **FAST)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            source.push("shop", "v1", make_task("t1"), make_task("t2"))
            await wait_until(lambda: started(log) == 2, "both tasks started")
            await runner.shutdown()  # the drain waits for both (50 ms each)
        assert source.acked_ids() and sorted(source.acked_ids()) == ["t1", "t2"]

    anyio.run(scenario, backend=backend)
    assert polls_at_enter == [0]
    assert log[0] == "enter" and log[-1] == "exit"
    # Both tasks ran inside the one entry, with the same shared object.
    clients = {entry.split(" with ")[1] for entry in log if entry.startswith("task ")}
    assert len(clients) == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_lifespan_that_fails_stops_the_runner_from_starting(backend, caplog) -> None:
    log: list[str] = []
    source = FakeSource()

    async def scenario() -> None:
        with pytest.raises(RunnerStartupError, match="lifespan of app shop v1 failed") as info:
            await Runner(shop(log, fail="enter"), source, **FAST).run()
        assert "ConnectionError: the backend refused the pool" in str(info.value)

    anyio.run(scenario, backend=backend)
    assert source.next_calls.total() == 0
    assert "Traceback" in caplog.text


def test_a_standalone_run_exits_1_when_the_lifespan_fails() -> None:
    from tempest_sdk.runner import run

    with pytest.raises(SystemExit) as info:
        run(shop([], fail="enter"), client=FakeSource(), **FAST)  # type: ignore[arg-type]
    assert "lifespan of app shop v1 failed" in str(info.value.code)


async def test_a_lifespan_that_fails_while_ending_is_logged(caplog) -> None:
    log: list[str] = []
    source = FakeSource()
    async with Runner(shop(log, fail="exit"), source, **FAST):
        pass
    assert log[-1] == "exit"
    assert "failed while ending" in caplog.text


def test_one_lifespan_per_app_and_it_takes_the_app_or_nothing() -> None:
    app = tempest.App("shop", "v1")

    @app.lifespan
    async def first() -> AsyncIterator[None]:
        yield

    with pytest.raises(tempest.DefinitionError, match="is the lifespan already"):

        @app.lifespan
        async def second() -> AsyncIterator[None]:
            yield

    other = tempest.App("other", "v1")
    with pytest.raises(tempest.DefinitionError, match="takes the app as its only argument"):

        @other.lifespan
        async def too_many(app: tempest.App, extra: int) -> AsyncIterator[None]:
            yield


async def test_plain_generators_and_context_manager_factories_are_lifespans() -> None:
    seen: list[str] = []
    plain = tempest.App("plain", "v1")

    @plain.lifespan
    def settings() -> Iterator[dict[str, str]]:
        seen.append("plain in")
        yield {"region": "eu"}
        seen.append("plain out")

    async with plain.serving() as state:
        assert state == {"region": "eu"}

    factory = tempest.App("factory", "v1")

    @factory.lifespan
    def client(app: tempest.App) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url="https://temps.example.com")

    async with factory.serving() as state:
        assert isinstance(state, httpx.AsyncClient) and not state.is_closed
    assert state.is_closed
    assert seen == ["plain in", "plain out"]


@respx.mock(base_url="https://temps.example.com/api")
async def test_the_guide_example_shares_one_temps_client(
    respx_mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPS_TOKEN", "temps-token-123456")
    module = importlib.reload(importlib.import_module("docs_src.writing_apps.lifespan"))
    app: tempest.App = module.app
    route = respx_mock.post("/projects").mock(
        return_value=httpx.Response(201, json={"id": 42, "name": "web"})
    )
    async with app.serving() as clients:
        for _ in range(2):
            report = await ainvoke(
                app, "project", "create", input={"name": "web", "repository": "git@x:web"}
            )
            assert report.status is ReportStatus.OK, report.message
    assert route.call_count == 2
    assert clients.temps.is_closed


def injecting(log: list[str]) -> tempest.App:
    """An app whose handlers and health check take the lifespan's `Shared` by type."""
    app = tempest.App("shop", "v1")

    @app.lifespan
    async def lifespan() -> AsyncIterator[Shared]:
        log.append("enter")
        yield Shared(log)
        log.append("exit")

    example = app.resource("example", description="d", properties=Props)

    @example.create
    async def create(ctx: tempest.Context, shared: Shared) -> tempest.Resource:
        log.append(f"create with {id(shared)}")
        return tempest.Resource(external_id=ctx.task_id, display_name="x", properties={})

    @example.health_check
    def health(shared: Shared) -> tempest.Health:
        log.append(f"health with {id(shared)}")
        return tempest.Health.healthy()

    return app


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_handlers_and_health_checks_receive_the_lifespan_state_by_type(backend) -> None:
    log: list[str] = []
    app = injecting(log)
    source = FakeSource()
    source.push("shop", "v1", make_task("t1"), make_task("t2"))

    async def scenario() -> None:
        async with Runner(app, source, **FAST):
            await wait_until(lambda: len(source.acked) == 2, "both reports")
            await wait_until(lambda: len(source.health) == 1, "the health report")

    anyio.run(scenario, backend=backend)
    assert log[0] == "enter" and log[-1] == "exit"
    users = [entry for entry in log if " with " in entry]
    assert len(users) == 3 and len({entry.split(" with ")[1] for entry in users}) == 1


def test_a_parameter_nothing_provides_fails_at_registration() -> None:
    app = tempest.App("shop", "v1")
    example = app.resource("example", description="d", properties=Props)
    with pytest.raises(tempest.DefinitionError, match=r"declare @app\.lifespan") as info:

        @example.read
        async def read(resource: tempest.Resource, shared: Shared) -> tempest.Resource:
            return resource

    assert "parameter 'shared'" in str(info.value)

    @app.lifespan
    async def lifespan() -> AsyncIterator[Shared]:
        yield Shared([])

    with pytest.raises(tempest.DefinitionError, match=r"the lifespan yields Shared"):

        @example.delete
        async def delete(resource: tempest.Resource, client: httpx.AsyncClient) -> None:
            return None


async def test_tests_override_the_state_without_touching_the_app() -> None:
    log: list[str] = []
    app = injecting(log)
    fake = Shared(["fake"])
    with app.overriding_state(fake):
        report = await ainvoke(app, "example", "create")
        assert report.status is ReportStatus.OK
    assert log == [f"create with {id(fake)}"]  # the lifespan never ran


async def test_check_health_enters_the_lifespan_when_not_serving() -> None:
    log: list[str] = []
    app = injecting(log)
    report = await app.check_health()
    assert report is not None and [item.status for item in report.health_reports] == ["healthy"]
    assert log[0] == "enter" and log[-1] == "exit" and log[1].startswith("health with ")
    async with app.serving() as shared:
        await app.check_health()
    assert log[-2:] == [f"health with {id(shared)}", "exit"]  # one entry, shared


async def test_a_handler_taking_the_state_outside_serving_gets_an_error_report() -> None:
    app = injecting([])
    report = await app.dispatch(make_task("t1"))
    assert report.status is ReportStatus.ERROR
    assert "takes what the app's lifespan yields" in (report.message or "")
    assert "not serving" in (report.message or "")


def test_settings_problems_are_listed_with_the_variable_to_set(monkeypatch, tmp_path) -> None:
    from pydantic import SecretStr
    from pydantic_settings import BaseSettings, SettingsConfigDict

    from tempest_sdk._app._settings import SettingsError, load_settings

    class TempsSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="TEMPS_", secrets_dir=str(tmp_path / "no"))
        url: str
        token: SecretStr
        retries: int = 3

    monkeypatch.delenv("TEMPS_URL", raising=False)
    monkeypatch.delenv("TEMPS_TOKEN", raising=False)
    monkeypatch.setenv("TEMPS_RETRIES", "many")
    with pytest.raises(SettingsError) as info:
        load_settings(TempsSettings)
    message = str(info.value)
    assert "3 problem(s)" in message
    assert "url: Field required; from environment variable TEMPS_URL" in message
    assert "token: Field required; from environment variable TEMPS_TOKEN (or the file" in message
    assert "retries: Input should be a valid integer" in message
    assert "many" not in message  # values are never quoted: they may be secrets

    # Kubernetes mounts secrets as files: one per field, under secrets_dir.
    secrets = tmp_path / "no"
    secrets.mkdir()
    (secrets / "TEMPS_token").write_text("file-token-XYZ")
    monkeypatch.setenv("TEMPS_URL", "https://temps.example.com/api")
    monkeypatch.setenv("TEMPS_RETRIES", "5")
    loaded = load_settings(TempsSettings)
    assert loaded.token.get_secret_value() == "file-token-XYZ" and loaded.retries == 5


def test_settings_problems_name_aliases_and_rules_over_several_fields(monkeypatch) -> None:
    from pydantic import AliasChoices, Field, SecretStr, model_validator
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class TempsSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="TEMPS_")
        token: SecretStr = Field(validation_alias=AliasChoices("TEMPS_TOKEN", "TEMPS_API_TOKEN"))
        basic: bool = False
        password: SecretStr | None = None

        @model_validator(mode="after")
        def _basic_needs_a_password(self) -> TempsSettings:
            if self.basic and self.password is None:
                raise ValueError("basic authentication needs TEMPS_PASSWORD")
            return self

    for name in ("TEMPS_TOKEN", "TEMPS_API_TOKEN", "TEMPS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(tempest.SettingsError) as info:
        tempest.load_settings(TempsSettings)
    assert "from environment variable TEMPS_TOKEN or TEMPS_API_TOKEN" in str(info.value)
    assert "TEMPS_TEMPS" not in str(info.value)
    monkeypatch.setenv("TEMPS_API_TOKEN", "t")
    monkeypatch.setenv("TEMPS_BASIC", "1")
    with pytest.raises(tempest.SettingsError) as info:
        tempest.load_settings(TempsSettings)
    [problem] = info.value.problems
    assert problem.endswith("from the settings TempsSettings as a whole")
    assert "basic authentication needs TEMPS_PASSWORD" in problem


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_bad_settings_stop_the_runner_from_starting_with_every_problem(
    backend, monkeypatch
) -> None:
    module = importlib.reload(importlib.import_module("docs_src.writing_apps.lifespan"))
    monkeypatch.delenv("TEMPS_TOKEN", raising=False)
    source = FakeSource()

    async def scenario() -> None:
        with pytest.raises(RunnerStartupError, match="TEMPS_TOKEN"):
            await Runner(module.app, source, **FAST).run()

    anyio.run(scenario, backend=backend)
    assert source.next_calls.total() == 0


def test_a_typed_dict_input_still_works_beside_a_lifespan() -> None:
    from typing_extensions import TypedDict

    class Sizes(TypedDict):
        size: int

    app = tempest.App("shop", "v1")

    @app.lifespan
    async def lifespan() -> AsyncIterator[Shared]:
        yield Shared([])

    example = app.resource("example", description="d", properties=Props)

    @example.create
    def create(input: Sizes, shared: Shared) -> tempest.Resource:
        return tempest.Resource(external_id=str(input["size"]), display_name="x", properties={})

    assert invoke(app, "example", "create", input={"size": 3}).resource.external_id == "3"


def test_the_docs_fixture_holds_its_override_while_the_runner_serves(
    pytester: pytest.Pytester,
) -> None:
    """docs/lifespan.md: `tempest_app` entering `app.overriding` serves the fake through
    `tempest_runner` (the real runner against the emulator)."""
    import shutil

    from .conftest import ROOT

    (pytester.path / "docs_src").mkdir()
    (pytester.path / "docs_src" / "__init__.py").write_text("")
    shutil.copytree(
        ROOT / "docs_src" / "writing_apps",
        pytester.path / "docs_src" / "writing_apps",
        ignore=shutil.ignore_patterns("test_*", "__pycache__"),
    )
    shutil.copy(
        ROOT / "docs_src" / "writing_apps" / "test_lifespan_parts.py",
        pytester.path / "docs_src" / "writing_apps" / "test_lifespan_parts.py",
    )
    pytester.makeconftest("from docs_src.writing_apps.fixtures_overriding import tempest_app\n")
    pytester.makepyfile(
        test_fixture_override_served="""
def test_read_through_the_runner(tempest_runner, tempest_emulator):
    from docs_src.writing_apps.lifespan_parts import app
    task = tempest_emulator.enqueue_operation(
        "temps", "v1", "project", "read", external_id="7"
    )
    tempest_emulator.wait_for_reports(1, timeout=20)
    [report] = tempest_emulator.reports(task)
    assert report["status"] == "ok", report
    assert report["response"]["resource"]["display_name"] == "web"
"""
    )
    result = pytester.runpytest_subprocess(
        "test_fixture_override_served.py",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "-W",
        "error",
    )
    result.assert_outcomes(passed=1)
