"""Every log record of every logger, text and JSON, from any thread, while a task is in
flight: the task's secrets are masked even where its context variable is not seen."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, SecretStr

import tempest_sdk as tempest
from tempest_sdk._secrets import MASK, MaskingFilter
from tempest_sdk.testing import ainvoke

from .conftest import (
    BACKENDS,
    INPUT_SECRET,
    MASKED_AT_RUNTIME,
    SECRET,
    SETTINGS_SECRET,
    Capture,
)

OWN = logging.getLogger("myapp.client")


class Props(BaseModel):
    name: str = "x"


class Settings(BaseModel):
    token: SecretStr


class Login(BaseModel):
    password: SecretStr


def _leaky_app() -> tempest.App:
    """Each handler logs the task's secret (and a settings and a `ctx.mask` one) from
    the app's own logger: on the loop, in executor threads, in a thread it starts."""
    app = tempest.App("leaky", "v1")

    @app.lifespan
    async def lifespan(app: tempest.App) -> Any:
        yield Settings(token=SecretStr(SETTINGS_SECRET))

    thing = app.resource("thing", display_name="T", description="T.", properties=Props)

    def say(where: str, *values: str) -> None:
        OWN.warning("%s: %s", where, " ".join(values))
        try:
            raise RuntimeError(f"refused {values[0]}")
        except RuntimeError:
            OWN.exception("%s failed", where)

    @thing.create
    async def create(ctx: tempest.Context, input: Login) -> tempest.Resource:
        key = ctx.env.secret("API_KEY")
        ctx.mask(MASKED_AT_RUNTIME)
        settings = ctx.state
        password = input.password.get_secret_value()
        values = (key, settings.token.get_secret_value(), MASKED_AT_RUNTIME, password)
        say("loop", *values)
        ctx.logger.info("ctx.logger: %s", " ".join(values))
        if isinstance(_current_loop(), asyncio.AbstractEventLoop):
            await asyncio.get_running_loop().run_in_executor(None, say, "run_in_executor", *values)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            await anyio.to_thread.run_sync(pool.submit(say, "pool", *values).result)
        started = threading.Thread(target=say, args=("thread", *values))
        started.start()
        await anyio.to_thread.run_sync(started.join)
        return tempest.Resource(external_id="t1", display_name="T", properties={})

    @thing.update
    def update(ctx: tempest.Context, resource: tempest.Resource, input: Props) -> tempest.Resource:
        # A plain handler: it runs in a worker thread, and starts one of its own.
        key = ctx.env.secret("API_KEY")
        started = threading.Thread(target=say, args=("plain handler's thread", key))
        started.start()
        started.join()
        say("plain handler", key)
        return resource

    return app


def _current_loop() -> object:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _run(backend: tuple[str, dict[str, Any]], scenario: Any) -> Any:
    name, options = backend
    return anyio.run(scenario, backend=name, backend_options=options)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_logger_from_every_thread_is_masked_in_text_and_json(
    backend: tuple[str, dict[str, Any]], capture: Capture
) -> None:
    app = _leaky_app()

    async def scenario() -> None:
        secrets = {"API_KEY": SECRET}
        login = {"password": INPUT_SECRET}
        report = await ainvoke(app, "thing", "create", input=login, secrets=secrets)
        assert report.status == "ok", report.message
        report = await ainvoke(app, "thing", "update", external_id="t1", secrets=secrets)
        assert report.status == "ok", report.message

    _run(backend, scenario)
    output = capture.output()
    for value in (SECRET, SETTINGS_SECRET, MASKED_AT_RUNTIME, INPUT_SECRET):
        leaked = value in output
        assert not leaked, "a secret reached a log line"
    text = capture.text.getvalue()
    where = ["loop", "pool", "thread", "plain handler", "plain handler's thread"]
    if backend[0] == "asyncio":
        where.append("run_in_executor")
    for name in where:
        assert f"WARNING myapp.client: {name}: {MASK}" in text, name
        assert f"RuntimeError: refused {MASK}" in text
    assert f"INFO tempest_sdk.app: ctx.logger: {MASK} {MASK} {MASK} {MASK}" in text
    lines = [json.loads(line) for line in capture.json.getvalue().splitlines()]
    messages = {line["message"] for line in lines if line["logger"] == "myapp.client"}
    assert f"thread: {MASK} {MASK} {MASK} {MASK}" in messages
    assert all(MASK in line["exception"] for line in lines if "exception" in line)


def test_the_registry_holds_tasks_in_flight_only() -> None:
    """It does not grow with every task served: once the task has ended, its secrets
    are no longer looked for (a later record is the app's business again)."""
    from tempest_sdk._secrets import mask

    app = _leaky_app()

    async def scenario() -> None:
        await ainvoke(app, "thing", "update", external_id="t1", secrets={"API_KEY": SECRET})

    anyio.run(scenario)
    assert mask(f"x {SECRET}") == f"x {SECRET}"


def test_the_filter_masks_extra_fields_and_never_lets_an_unmaskable_record_out() -> None:
    from tempest_sdk._secrets import register_process_secrets, unregister_process_secrets

    register_process_secrets([SECRET])
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (SECRET,), None)
        record.resource_type = f"type-{SECRET}"
        assert MaskingFilter().filter(record)
        assert (record.getMessage(), record.resource_type) == (MASK, f"type-{MASK}")

        try:
            raise RuntimeError(f"refused {SECRET}")
        except RuntimeError as error:
            failed = logging.LogRecord("x", 40, __file__, 1, "failed", None, sys.exc_info())
            other = logging.LogRecord("x", 40, __file__, 1, "failed", None, sys.exc_info())
            other.exc_info = (ValueError, ValueError("nothing secret"), error.__traceback__)
        assert MaskingFilter().filter(failed)
        assert MaskingFilter().filter(other)
        # An exception object holding a secret does not go on (an error tracker
        # would send it); its masked traceback does.
        assert failed.exc_info is None
        assert failed.exc_text is not None
        assert failed.exc_text.endswith(f"RuntimeError: refused {MASK}")
        assert other.exc_info is not None

        clean = logging.LogRecord("x", logging.INFO, __file__, 1, "step %d of %s", (2, "t"), None)
        assert MaskingFilter().filter(clean)
        assert (clean.msg, clean.args) == ("step %d of %s", (2, "t"))  # template kept

        class Hostile:
            def __str__(self) -> str:
                raise ValueError("no text")

        bad = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (Hostile(),), None)
        assert MaskingFilter().filter(bad)
        assert bad.getMessage() == "log record withheld: it could not be masked"
    finally:
        unregister_process_secrets([SECRET])


def test_the_standalone_runner_puts_the_filter_on_the_handler_it_adds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tempest_sdk._secrets import register_process_secrets, unregister_process_secrets
    from tempest_sdk.runner._standalone import _set_up_logging

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    sdk = logging.getLogger("tempest_sdk")
    sdk_level = sdk.level
    root.handlers.clear()
    register_process_secrets([SECRET])
    try:
        _set_up_logging("text")
        (handler,) = root.handlers
        assert any(isinstance(f, MaskingFilter) for f in handler.filters)
        thread = threading.Thread(target=OWN.error, args=("own logger: %s", SECRET))
        thread.start()
        thread.join()
    finally:
        unregister_process_secrets([SECRET])
        root.handlers[:] = saved
        root.setLevel(level)
        sdk.setLevel(sdk_level)
    err = capsys.readouterr().err
    leaked = SECRET in err
    assert not leaked, "the secret reached the log"
    assert f"myapp.client: own logger: {MASK}" in err


CLI_APP = textwrap.dedent(
    """
    import logging
    import threading

    from pydantic import BaseModel

    import tempest_sdk as tempest

    app = tempest.App("cli", "v1")


    class Props(BaseModel):
        name: str = "x"


    thing = app.resource("thing", display_name="T", description="T.", properties=Props)


    @thing.create
    def create(ctx: tempest.Context, input: Props) -> tempest.Resource:
        key = ctx.env.secret("API_KEY")
        own = logging.getLogger("cli.own")
        own.warning("own logger: %s", key)
        started = threading.Thread(target=own.warning, args=("own thread: %s", key))
        started.start()
        started.join()
        return tempest.Resource(external_id=key, display_name=key, properties={"name": key})
    """
)


def _env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(NO_COLOR="1", **more)
    return env


def test_cli_invoke_masks_its_text_logs_and_its_output(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(CLI_APP)
    command = [sys.executable, "-m", "tempest_sdk", "invoke", "app.py", "thing", "create"]
    command += ["--input", "{}", "--secret", "API_KEY"]
    done = subprocess.run(
        command, cwd=tmp_path, env=_env(API_KEY=SECRET), capture_output=True, text=True
    )
    out, err = done.stdout, done.stderr
    leaked = SECRET in out or SECRET in err
    assert not leaked, "the secret reached the CLI's output"
    assert done.returncode == 0, err[-2000:]
    assert json.loads(out)["response"]["resource"]["properties"] == {"name": MASK}
    assert f"cli.own: own logger: {MASK}" in err
    assert f"cli.own: own thread: {MASK}" in err


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_cli_serve_masks_the_apps_own_loggers_in_text_and_json(
    tmp_path: Path, log_format: str
) -> None:
    """The Dockerfile's command: `tempest-sdk serve`, text logs by default."""
    from tempest_sdk.emulator import Emulator

    (tmp_path / "app.py").write_text(CLI_APP)
    with Emulator(token="secrets-test-token").serve_in_thread() as emulator:
        task_id = emulator.enqueue_operation(
            "cli",
            "v1",
            "thing",
            "create",
            input={},
            environment_variables=[{"name": "API_KEY", "value": SECRET, "type": "secret"}],
        )
        command = [sys.executable, "-m", "tempest_sdk", "serve", "app.py"]
        command += ["--log-format", log_format, "--log-level", "info"]
        env = _env(TEMPEST_TOKEN=emulator.token, TEMPEST_API_ENDPOINT=emulator.url)
        with (tmp_path / "stderr.txt").open("w+") as errors:
            process = subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=errors
            )
            try:
                emulator.wait_for_reports(1, timeout=60)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
            errors.seek(0)
            err = errors.read()
        (report,) = emulator.reports(task_id)
    # (The report is dispatch's road, tested with it.)
    leaked = SECRET in err
    assert not leaked, "the secret reached the runner's logs"
    assert report["status"] == "ok"
    own = f"own thread: {MASK}"
    if log_format == "text":
        assert f"cli.own: {own}" in err
    else:
        lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert {"logger": "cli.own", "message": own}.items() <= next(
            line for line in lines if line["message"] == own
        ).items()


HEALTH_APP = textwrap.dedent(
    """
    from collections.abc import AsyncIterator

    from pydantic import BaseModel, SecretStr

    import tempest_sdk as tempest

    app = tempest.App("health", "v1")


    class Settings(BaseModel):
        token: SecretStr


    @app.lifespan
    async def settings() -> AsyncIterator[Settings]:
        yield Settings(token=SecretStr("{secret}"))


    class Props(BaseModel):
        name: str = "x"


    thing = app.resource("thing", display_name="T", description="T.", properties=Props)


    @thing.health_check
    async def check(settings: Settings) -> tempest.Health:
        token = settings.token.get_secret_value()
        return tempest.Health.disrupted(f"401: the service refused the key {{token}}")
    """
)


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_cli_health_masks_the_settings_secrets_in_its_output(tmp_path: Path, as_json: bool) -> None:
    """The report is printed after the lifespan (and its secrets) ended."""
    (tmp_path / "app.py").write_text(HEALTH_APP.format(secret=SETTINGS_SECRET))
    command = [sys.executable, "-m", "tempest_sdk", "health", "app.py", *(["--json"] * as_json)]
    done = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True)
    leaked = SETTINGS_SECRET in done.stdout or SETTINGS_SECRET in done.stderr
    assert not leaked, "the secret reached the CLI's output"
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"the service refused the key {MASK}" in done.stdout
