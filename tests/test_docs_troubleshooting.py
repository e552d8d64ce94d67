"""docs/troubleshooting.md quotes the messages users really meet.

Two checks: a representative set of messages is triggered for real (public API, the
emulator on 127.0.0.1, `tempest-sdk` subprocesses) and matched against the entry the
page quotes; and every literal message the package raises or logs on purpose has its
text on the page, unless it is allow-listed below with a reason.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

import tempest_sdk as tempest
from tempest_sdk.client import AsyncTempestClient, TempestConfigError
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import MalformedTaskError, parse_task
from tempest_sdk.runner import Runner, RunnerConfigError, RunnerStartupError, options_from_env
from tempest_sdk.testing import ainvoke, invoke

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "troubleshooting.md"
PACKAGE = ROOT / "tempest_sdk"
CLI_APPS = ROOT / "tests" / "cli" / "apps"

# -- reading the page ------------------------------------------------------------------

# A run of N backticks opens a span that only a run of exactly N closes (CommonMark).
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)\s?(.+?)\s?(?<!`)\1(?!`)", re.DOTALL)


def _page() -> str:
    return PAGE.read_text(encoding="utf-8")


def _spans() -> list[str]:
    """Every code span of the page, whitespace collapsed (a span may wrap lines)."""
    return [" ".join(m.group(2).split()) for m in _CODE_SPAN.finditer(_page())]


def _entry(key: str) -> str:
    """The one code span of the page that contains `key`."""
    found = [span for span in _spans() if key in span]
    found = [span for span in found if span == key] or found
    assert len(found) == 1, f"{len(found)} code spans of {PAGE.name} contain {key!r}: {found}"
    return found[0]


def _pattern(entry: str) -> re.Pattern[str]:
    """The entry as a regex: `<placeholder>` matches any text, the rest literally."""
    parts = re.split(r"<[^<>]*>", entry)
    return re.compile(".+?".join(re.escape(part) for part in parts), re.DOTALL)


def check(key: str, actual: str) -> None:
    """The page's entry holding `key` matches the message the user saw."""
    entry = _entry(key)
    flat = " ".join(actual.split())
    assert _pattern(entry).search(flat), f"page entry {entry!r}\ndoes not match {flat!r}"


def message_of(fn: Callable[[], object], *errors: type[BaseException]) -> str:
    with pytest.raises(errors or (Exception,)) as caught:
        fn()
    return str(caught.value)


# -- apps the scenarios use ------------------------------------------------------------


class Paint(BaseModel):
    color: str


class Size(BaseModel):
    size: int


class Done(BaseModel):
    ok: bool


def _shop() -> tempest.App:
    app = tempest.App("troubleshoot", "v1")
    item = app.resource("item", description="An item.", properties=Paint)

    @item.create
    async def create(input: Size) -> tempest.Resource:
        return tempest.Resource(external_id="i-1", properties={"color": 3})

    @item.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    @item.update
    async def update(resource: tempest.Resource) -> tempest.Resource:
        raise tempest.ResourceNotFoundError(f"no item {resource.external_id}")

    @item.delete
    async def delete(resource: tempest.Resource) -> None:
        raise RuntimeError("the shop's API is down")

    @item.action("check")
    async def check_item(resource: tempest.Resource) -> Done:
        return {"ok": "perhaps"}  # type: ignore[return-value]

    return app


# -- at import: DefinitionError --------------------------------------------------------


def test_app_id_and_version() -> None:
    text = message_of(lambda: tempest.App("My_App", "1"), tempest.DefinitionError)
    check("app id '<id>' must match", text)
    check("version '<version>' must match", text)


def test_type_name() -> None:
    app = tempest.App("troubleshoot", "v1")
    text = message_of(lambda: app.resource("9lives", description="x"), tempest.DefinitionError)
    check("type name '<type>' must match", text)


def test_nested_properties() -> None:
    class Owner(BaseModel):
        name: str

    class Nested(BaseModel):
        owner: Owner

    app = tempest.App("troubleshoot", "v1")
    text = message_of(
        lambda: app.resource("thing", description="x", properties=Nested),
        tempest.DefinitionError,
    )
    check("field '<name>' is an object;", text)


def test_unannotated_parameter() -> None:
    app = tempest.App("troubleshoot", "v1")
    thing = app.resource("thing", description="x", properties=Paint)

    def register() -> None:
        @thing.read
        async def read(ctx):  # type: ignore[no-untyped-def]
            return None

    check("has no type annotation", message_of(register, tempest.DefinitionError))


def test_rate_limit_type() -> None:
    app = tempest.App("troubleshoot", "v1")
    text = message_of(
        lambda: app.resource("thing", description="x", rate_limit=5),  # type: ignore[arg-type]
        tempest.DefinitionError,
    )
    check("rate_limit must be a tempest.Rate", text)


def test_frozen_app() -> None:
    app = _shop()
    app.describe()
    text = message_of(lambda: app.resource("late", description="x"), tempest.DefinitionError)
    check("the app is frozen", text)


def test_lifespan_signature() -> None:
    app = tempest.App("troubleshoot", "v1")

    def register() -> None:
        @app.lifespan
        async def lifespan(app: tempest.App, other: int):  # type: ignore[no-untyped-def]
            yield

    check("a lifespan takes the app", message_of(register, tempest.DefinitionError))


# -- at start ---------------------------------------------------------------------------


class ShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_")

    api_url: str
    retries: int = 3


def test_settings_missing_and_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_API_URL", raising=False)
    monkeypatch.setenv("SHOP_RETRIES", "many")
    text = message_of(lambda: tempest.load_settings(ShopSettings), tempest.SettingsError)
    check("invalid settings <Settings>", text)
    check("Field required; from environment variable", text)
    check("<field>: <reason>; from environment variable <NAME>", text)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("TEMPEST_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_no_token(clean_env: pytest.MonkeyPatch) -> None:
    check("no Tempest API token", message_of(AsyncTempestClient, TempestConfigError))


def test_empty_token_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("  \n")
    clean_env.setenv("TEMPEST_TOKEN_FILE", str(token))
    check("the API token from <source> is empty", message_of(AsyncTempestClient))


def test_endpoint_not_http(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TEMPEST_API_ENDPOINT", "ftp://tempest.example/api")
    text = message_of(lambda: AsyncTempestClient(token="t"), TempestConfigError)
    check("is not an http(s) URL", text)


def test_ca_bundle_missing(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = str(tmp_path / "ca.pem")
    text = message_of(lambda: AsyncTempestClient(token="t", verify=missing), TempestConfigError)
    check("cannot load the CA bundle", text)


def test_runner_variable_not_an_integer() -> None:
    text = message_of(
        lambda: options_from_env({"TEMPEST_RUNNER_CONCURRENCY": "lots"}), RunnerConfigError
    )
    check("is not an integer (example:", text)


def test_runner_option_out_of_range() -> None:
    text = message_of(lambda: options_from_env({}, concurrency=0), RunnerConfigError)
    check("invalid runner options:", text)
    check("<option> must be an integer of at least 1, got <value>", text)


@contextlib.contextmanager
def _serving_emulator() -> Iterator[Emulator]:
    with Emulator().serve_in_thread() as emulator:
        assert emulator.url.startswith("http://127.0.0.1:")
        yield emulator


def test_token_refused_at_start() -> None:
    async def scenario(url: str) -> str:
        client = AsyncTempestClient(token="not-the-emulator-token", endpoint=url)
        async with client:
            with pytest.raises(RunnerStartupError) as caught:
                await Runner(_shop(), client, connect=False).run()
        return str(caught.value)

    with _serving_emulator() as emulator:
        text = anyio.run(scenario, emulator.url)
    check("cannot start serving app", text)
    assert "not-the-emulator-token" not in text


def test_lifespan_fails_at_start() -> None:
    app = tempest.App("troubleshoot", "v1")
    thing = app.resource("thing", description="x", properties=Paint)

    @thing.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        return resource

    @app.lifespan
    async def lifespan(app: tempest.App):  # type: ignore[no-untyped-def]
        tempest.load_settings(ShopSettings, api_url=None)
        yield

    async def scenario(emulator: Emulator) -> str:
        async with emulator.client() as client:
            with pytest.raises(RunnerStartupError) as caught:
                await Runner(app, client).run()
        return str(caught.value)

    with _serving_emulator() as emulator:
        text = anyio.run(scenario, emulator)
    check("the lifespan of app <id> <version> failed:", text)


def test_api_error_401() -> None:
    async def scenario(url: str) -> str:
        async with AsyncTempestClient(token="wrong", endpoint=url, max_retries=0) as client:
            with pytest.raises(tempest.TempestError) as caught:
                await client.next_task("troubleshoot", "v1")
        return str(caught.value)

    with _serving_emulator() as emulator:
        text = anyio.run(scenario, emulator.url)
    check("answered 401 Unauthorized", text)


# -- in a report ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "resource_type", "name", "options"),
    [
        ("is not part of app", "gadget", "create", {}),
        ("does not support <operation>", "item", "list", {}),
        ("has no action '<action>'", "item", "polish", {"external_id": "i-1"}),
        ("invalid input for <handler>", "item", "create", {"input": {"size": "big"}}),
        ("returned invalid data: resource.properties", "item", "create", {"input": {"size": 1}}),
        ("returned invalid data: output.", "item", "check", {"external_id": "i-1"}),
        ("<handler> failed: resource not found", "item", "update", {"external_id": "i-1"}),
        ("<handler> failed: <Exception>: <text>", "item", "delete", {"external_id": "i-1"}),
        ("needs the resource's external_id", "item", "read", {}),
    ],
)
def test_report_messages(key: str, resource_type: str, name: str, options: Any) -> None:
    report = invoke(_shop(), resource_type, name, **options)
    assert report.status == "error"
    assert report.message is not None
    check(key, report.message)


async def test_timeout_report() -> None:
    report = await ainvoke(_shop(), "item", "read", external_id="i-1", timeout=0.01)
    assert report.message is not None
    check("<handler> timed out after <n>s", report.message)


def test_malformed_task() -> None:
    text = message_of(
        lambda: parse_task({"task_id": "t-1", "task": {"request_type": "list_resources"}}),
        MalformedTaskError,
    )
    check("malformed task '<task_id>'", text)


# -- in the logs ------------------------------------------------------------------------


def test_blocked_loop_and_failed_report_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = tempest.App("troubleshoot", "v1")
    thing = app.resource("thing", description="x", properties=Paint)

    @thing.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        time.sleep(0.3)  # noqa: ASYNC251 - blocking on purpose: what the watchdog sees
        return resource

    caplog.set_level(logging.WARNING, logger="tempest_sdk")
    with _serving_emulator() as emulator:
        emulator.inject("apps.operations.report", status=503, times=1)
        task_id = emulator.enqueue_operation(
            "troubleshoot", "v1", "thing", "read", external_id="t-1", properties={"color": "red"}
        )
        runner = Runner(app, client=emulator.client, blocked_loop_warning=0.1)
        handle = runner.start_in_thread()
        try:
            emulator.wait_for_reports(1, timeout=60)
        finally:
            handle.stop()
    assert emulator.reports(task_id)[0]["status"] == "ok"
    messages = [r.getMessage() for r in caplog.records]
    check("the event loop was blocked", _one(messages, "blocked"))
    check("report of task <task_id> failed (attempt", _one(messages, "report of task"))


def _one(messages: list[str], word: str) -> str:
    found = [m for m in messages if word in m]
    assert found, f"no log message with {word!r} in {messages}"
    return found[0]


# -- on the command line ---------------------------------------------------------------


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    return subprocess.run(
        [sys.executable, "-m", "tempest_sdk", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines, result.stderr
    return lines[-1]


@pytest.mark.parametrize(
    ("key", "args", "code"),
    [
        ("app reference '<ref>' is malformed", ["describe", "app.py:"], 2),
        ("not a tempest_sdk.App", ["describe", str(CLI_APPS / "not_an_app.py")], 2),
        ("importing '<target>' raised", ["describe", str(CLI_APPS / "broken.py")], 1),
        (
            "does not apply to <kind>",
            ["invoke", str(CLI_APPS / "shop_v1.py"), "order", "read", "--input", "{}"],
            2,
        ),
        (
            "--url must be a local emulator's address",
            [
                *("enqueue", "--url", "https://tempest.example:443/api/v1", "--token", "t"),
                *("--app", "troubleshoot", "--version", "v1", "list", "--type", "item"),
            ],
            2,
        ),
    ],
)
def test_cli_errors(key: str, args: list[str], code: int, tmp_path: Path) -> None:
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert _error_line(result).startswith("error: ")
    check(key, _error_line(result).removeprefix("error: "))


# -- in tests ---------------------------------------------------------------------------


async def test_invoke_inside_a_loop() -> None:
    text = message_of(lambda: invoke(_shop(), "item", "list"), RuntimeError)
    check("invoke() cannot run inside an event loop", text)
    await asyncio.sleep(0)


def test_emulator_wait_says_how_far_it_got() -> None:
    emulator = Emulator()
    text = message_of(lambda: emulator.wait_for_reports(1, timeout=0.01), TimeoutError)
    check("waited <n> s for <what>", text)


def test_emulator_violation() -> None:
    with _serving_emulator() as emulator:
        answer = httpx.post(
            f"{emulator.url}/apps.version.connect",
            json={"app_id": "Not An Id", "version": "v1", "resources": []},
            headers={"Authorization": f"Bearer {emulator.token}"},
        )
        violations = emulator.violations
    assert answer.status_code == 400
    check("app_id: expected an id matching", answer.json()["error"])
    check("app_id: expected an id matching", violations[0].message)


def test_secret_read_as_a_variable() -> None:
    app = tempest.App("troubleshoot", "v1")
    thing = app.resource("thing", description="x", properties=Paint)
    seen: list[str] = []

    @thing.read
    async def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
        try:
            ctx.env["API_KEY"]
        except KeyError as exc:
            seen.append(str(exc.args[0]))
        return tempest.Resource(external_id="t-1", properties={"color": "red"})

    invoke(app, "thing", "read", external_id="t-1", secrets={"API_KEY": "s3cret-value"})
    check("is a <kind>, not a plain variable", seen[0])
    assert "s3cret-value" not in seen[0]


# -- the inventory: every message the package raises or logs is on the page ------------

# Raised (or `problems.append`ed for one) by these; builtin exceptions are left to the
# hand-written entries, since most of them are programming errors of the SDK's callers.
_RAISED = {
    "APIResponseValidationError",
    "CLIError",
    "DefinitionError",
    "MalformedTaskError",
    "RunnerConfigError",
    "RunnerStartupError",
    "SettingsError",
    "TempestConfigError",
    "UserCodeError",
    "_Failed",
}
_PROBLEM_MODULES = ("_app/", "runner/_config.py", "emulator/_validation.py", "emulator/_shape.py")
_LOGGERS = {"logger", "_LOGGER", "log"}
_LEVELS = {"warning", "error", "exception", "critical"}
_MIN_CHUNK = 10

# (module, a fragment of the message): why it has no entry.
ALLOWED = {
    ("_app/_dispatch.py", "has no output schema"): "unreachable: every action gets an output",
    ("_threads.py", "could not return the thread token"): "a bug of the SDK, traceback",
    ("emulator/_core.py", "failed to answer"): "the emulator's own bug, logged with traceback",
    ("runner/_health.py", "failed unexpectedly"): "a bug of the SDK, logged with traceback",
    ("runner/_runner.py", "the runner failed"): "a bug of the SDK, logged with traceback",
    ("runner/_operations.py", "collecting metrics"): "a bug of a metrics hook, traceback",
    ("runner/_tasks.py", "internal error while running"): "a bug of the SDK, traceback",
}


def _text(node: ast.expr) -> list[str]:
    """The literal strings of an argument, placeholders as NUL (lists: each item)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "\0" for v in node.values)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return [(left[0] if left else "\0") + (right[0] if right else "\0")]
    if isinstance(node, ast.List | ast.Tuple):
        return [text for item in node.elts for text in _text(item)]
    return []


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def inventory() -> list[tuple[str, int, str]]:
    """(module, line, message) of every literal message raised, listed or logged."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            texts: list[str] = []
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                if _name(node.exc.func) in _RAISED:
                    texts = [t for arg in node.exc.args for t in _text(arg)]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = _name(node.func.value)
                if node.func.attr == "append" and target == "problems":
                    if module.startswith(_PROBLEM_MODULES):
                        texts = [t for arg in node.args for t in _text(arg)]
                elif node.func.attr in _LEVELS and target in _LOGGERS and node.args:
                    texts = [re.sub(r"%[-#0-9.]*[sdrfi]", "\0", t) for t in _text(node.args[0])]
            found.extend((module, node.lineno, text) for text in texts)
    return found


def _chunks(message: str) -> list[str]:
    return [
        chunk for part in message.split("\0") if len(chunk := " ".join(part.split())) >= _MIN_CHUNK
    ]


def test_inventory_finds_the_messages() -> None:
    # Guards the inventory itself: a refactor that hid messages from it would pass below.
    messages = [text for _, _, text in inventory()]
    assert len(messages) > 150
    assert any("the app is frozen" in m for m in messages)
    assert any("is not an integer (example:" in m for m in messages)


def test_every_message_has_an_entry() -> None:
    page = " ".join(_spans())
    missing = []
    for module, line, message in inventory():
        if any(module == m and fragment in message for m, fragment in ALLOWED):
            continue
        absent = [chunk for chunk in _chunks(message) if chunk not in page]
        if absent:
            missing.append(f"tempest_sdk/{module}:{line}: {absent}")
    assert not missing, f"messages without an entry in {PAGE.name}:\n" + "\n".join(missing)


def test_allow_list_is_current() -> None:
    messages = inventory()
    stale = [
        key
        for key in ALLOWED
        if not any(module == key[0] and key[1] in text for module, _, text in messages)
    ]
    assert not stale, f"allow-listed messages no longer in the package: {stale}"
