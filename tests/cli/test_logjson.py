"""JSON logs: `JsonLogFormatter`, `serve --log-format json`, and `run(log_format=...)`.

The end-to-end tests run the real runner in a subprocess against a real emulator on
loopback, with a task carrying a secret that the handler logs and raises with.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tempest_sdk
from tempest_sdk._secrets import (
    MASK,
    TaskSecrets,
    enter_task,
    leave_task,
    register_process_secrets,
    unregister_process_secrets,
)
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import RunnerConfigError, RunnerOptions, options_from_env

# A test value, built so that it is never written whole in this file's source either.
SECRET = "sk-live-" + "4f9c2e7a1b8d" * 2

APP = textwrap.dedent(
    """
    import logging

    from pydantic import BaseModel

    import tempest_sdk as tempest

    app = tempest.App("logs", version="v1")


    class Props(BaseModel):
        name: str = "x"


    thing = app.resource("thing", display_name="Thing", description="A thing.", properties=Props)


    @thing.create
    async def create(ctx: tempest.Context, input: Props) -> tempest.Resource:
        key = ctx.env.secret("API_KEY")
        ctx.logger.info("calling the API with key %s", key)
        logging.getLogger("logs.client").warning("the app's own logger sees %s", key)
        return tempest.Resource(external_id="t1", display_name="T", properties={"name": input.name})


    @thing.update
    def update(ctx: tempest.Context, resource: tempest.Resource, input: Props) -> tempest.Resource:
        raise RuntimeError("upstream refused key " + ctx.env.secret("API_KEY"))


    if __name__ == "__main__":
        app.run()
    """
)


def _record(**attributes: object) -> logging.LogRecord:
    record = logging.LogRecord("tempest_sdk.runner", logging.INFO, __file__, 1, "x", None, None)
    record.__dict__.update(attributes)
    return record


# -- the formatter --------------------------------------------------------------------


def test_a_record_is_one_line_of_json_with_time_level_logger_message() -> None:
    record = logging.LogRecord(
        "tempest_sdk.runner", logging.WARNING, __file__, 1, "task %s: %s", ("t-1", "ok"), None
    )
    record.created = 1_700_000_000.25
    line = tempest_sdk.JsonLogFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2023-11-14T22:13:20.250Z",
        "level": "WARNING",
        "logger": "tempest_sdk.runner",
        "message": "task t-1: ok",
    }


def test_task_fields_are_included_and_other_extras_left_out() -> None:
    record = _record(
        app_id="shop",
        app_version="v1",
        task_id="t-1",
        task_kind="action",
        resource_type="order",
        operation=None,
        action="refund",
        status="ok",
        duration=0.5,
        customer_email="someone@example.com",
    )
    data = json.loads(tempest_sdk.JsonLogFormatter().format(record))
    assert data["app_id"] == "shop"
    assert data["app_version"] == "v1"
    assert data["task_id"] == "t-1"
    assert data["task_kind"] == "action"
    assert data["resource_type"] == "order"
    assert data["action"] == "refund"
    assert data["status"] == "ok"
    assert data["duration"] == 0.5
    assert "operation" not in data  # None fields are left out
    assert "customer_email" not in data


def test_named_fields_are_included_and_odd_values_written_as_text() -> None:
    record = _record(order_id=42, where=Path("/srv/app"))
    data = json.loads(tempest_sdk.JsonLogFormatter(fields=["order_id", "where"]).format(record))
    assert data["order_id"] == 42
    assert data["where"] == str(Path("/srv/app"))


def test_fields_must_be_names() -> None:
    with pytest.raises(TypeError, match="fields must be attribute names"):
        tempest_sdk.JsonLogFormatter(fields=[""])


def test_ctx_logger_version_is_written_as_app_version() -> None:
    record = _record(task_id="t-1", app_id="shop", version="v2")
    data = json.loads(tempest_sdk.JsonLogFormatter().format(record))
    assert data["app_version"] == "v2"
    other = logging.LogRecord("myapp", logging.INFO, __file__, 1, "x", None, None)
    other.version = "9.9"
    assert "app_version" not in json.loads(tempest_sdk.JsonLogFormatter().format(other))


def test_exception_text_is_included() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.LogRecord(
            "myapp", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    data = json.loads(tempest_sdk.JsonLogFormatter().format(record))
    assert data["exception"].startswith("Traceback (most recent call last):")
    assert data["exception"].endswith("ValueError: bad value")


def test_secrets_of_the_running_task_are_masked_in_any_logger_and_field() -> None:
    class Request:
        environment_variables = ()

    secrets = TaskSecrets(Request())
    secrets.add(SECRET)
    token = enter_task(secrets)
    try:
        try:
            raise RuntimeError(f"refused {SECRET}")
        except RuntimeError:
            record = logging.LogRecord(
                "myapp.client", logging.ERROR, __file__, 1, "key %s", (SECRET,), sys.exc_info()
            )
        record.task_id = f"t-{SECRET}"
        # A secret that JSON escapes must be found before it is escaped.
        record.msg, record.args = f'key "{SECRET}"\n', None
        line = tempest_sdk.JsonLogFormatter().format(record)
    finally:
        leave_task(token)
    leaked = SECRET in line or SECRET in json.dumps(json.loads(line))
    assert not leaked, "a task secret reached the JSON line"
    data = json.loads(line)
    assert data["message"] == f'key "{MASK}"\n'
    assert MASK in data["exception"]
    assert data["task_id"] == f"t-{MASK}"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_plain_handler_thread_sees_its_task_secrets(backend: str) -> None:
    """Plain handlers run in worker threads: the task's secrets follow them there."""
    import anyio

    class Request:
        environment_variables = ()

    def log_in_thread() -> str:
        record = logging.LogRecord("myapp", logging.INFO, __file__, 1, "%s", (SECRET,), None)
        return tempest_sdk.JsonLogFormatter().format(record)

    async def scenario() -> str:
        secrets = TaskSecrets(Request())
        secrets.add(SECRET)
        token = enter_task(secrets)
        try:
            return await anyio.to_thread.run_sync(log_in_thread)
        finally:
            leave_task(token)

    line = anyio.run(scenario, backend=backend)
    leaked = SECRET in line
    assert not leaked, "a task secret reached the JSON line"
    assert json.loads(line)["message"] == MASK


def test_secrets_of_the_serving_apps_are_masked_outside_tasks() -> None:
    register_process_secrets([SECRET])
    try:
        record = logging.LogRecord("myapp", logging.INFO, __file__, 1, "%s", (SECRET,), None)
        line = tempest_sdk.JsonLogFormatter().format(record)
    finally:
        unregister_process_secrets([SECRET])
    leaked = SECRET in line
    assert not leaked, "a settings secret reached the JSON line"


# -- the option -----------------------------------------------------------------------


def test_log_format_option_and_variable_are_checked() -> None:
    assert RunnerOptions().log_format is None
    assert options_from_env({"TEMPEST_RUNNER_LOG_FORMAT": " JSON "}).log_format == "json"
    assert options_from_env({"TEMPEST_RUNNER_LOG_FORMAT": "text"}).log_format == "text"
    assert options_from_env({"TEMPEST_RUNNER_LOG_FORMAT": ""}).log_format is None
    with pytest.raises(RunnerConfigError, match=r"TEMPEST_RUNNER_LOG_FORMAT='xml'.*text or json"):
        options_from_env({"TEMPEST_RUNNER_LOG_FORMAT": "xml"})
    with pytest.raises(RunnerConfigError, match="log_format must be 'text', 'json' or None"):
        RunnerOptions(log_format="xml")  # type: ignore[arg-type]


# -- end to end -----------------------------------------------------------------------


@pytest.fixture
def emulator():
    with Emulator(token="logs-test-token").serve_in_thread() as emu:
        yield emu


def _env(emulator: Emulator, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(
        NO_COLOR="1",
        TEMPEST_TOKEN=emulator.token,
        TEMPEST_API_ENDPOINT=emulator.url,
        **more,
    )
    return env


def _serve_two_tasks(emulator: Emulator, command: list[str], env: dict[str, str], cwd: Path):
    """Run `command` (a runner), have it serve a create and a failing update carrying
    the secret, stop it with SIGTERM; return its exit code and stderr."""
    secret = [{"name": "API_KEY", "value": SECRET, "type": "secret"}]
    created = emulator.enqueue_operation(
        "logs", "v1", "thing", "create", input={"name": "a"}, environment_variables=secret
    )
    updated = emulator.enqueue_operation(
        "logs",
        "v1",
        "thing",
        "update",
        external_id="t1",
        input={"name": "b"},
        environment_variables=secret,
    )
    with (cwd / "stderr.txt").open("w+") as errors:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            emulator.wait_for_reports(2, timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
        errors.seek(0)
        stderr = errors.read()
    assert emulator.reports(created)[0]["status"] == "ok"
    (report,) = emulator.reports(updated)
    assert report["status"] == "error"
    assert MASK in report["message"]
    return process.returncode, stderr, created, updated


def _json_lines(stderr: str) -> list[dict[str, object]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # pragma: no cover - shown on failure
            pytest.fail(f"not a JSON line: {line[:200]!r}")
    return records


def _check_records(stderr: str, created: str, updated: str) -> None:
    leaked = SECRET in stderr
    assert not leaked, "the secret reached the log output"
    records = _json_lines(stderr)
    for record in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(record["time"]))
        assert {"level", "logger", "message"} <= record.keys()
    outcome = next(r for r in records if r.get("task_id") == created and r.get("status") == "ok")
    assert outcome["logger"] == "tempest_sdk.runner"
    assert outcome["level"] == "INFO"
    assert outcome["app_id"] == "logs"
    assert outcome["app_version"] == "v1"
    assert outcome["task_kind"] == "operation"
    assert outcome["resource_type"] == "thing"
    assert outcome["operation"] == "create"
    assert isinstance(outcome["duration"], float)
    said = next(r for r in records if "calling the API" in str(r["message"]))
    assert said["message"] == f"calling the API with key {MASK}"
    assert said["logger"] == "tempest_sdk.app"
    assert (said["task_id"], said["app_version"], said["operation"]) == (created, "v1", "create")
    own = next(r for r in records if r["logger"] == "logs.client")
    assert own["message"] == f"the app's own logger sees {MASK}"
    failed = next(r for r in records if r.get("task_id") == updated and r.get("status"))
    assert failed["status"] == "error"
    assert failed["level"] == "WARNING"
    assert MASK in str(failed["message"])
    # The handler's traceback is the record's `exception`, never its message.
    traceback = next(r for r in records if "Traceback" in str(r.get("exception")))
    assert "Traceback" not in str(traceback["message"])
    assert "upstream refused key" in str(traceback["message"])
    assert "upstream refused key" in str(traceback["exception"])
    assert (traceback["logger"], traceback["level"]) == ("tempest_sdk.app", "ERROR")
    assert (traceback["task_id"], traceback["resource_type"]) == (updated, "thing")
    assert traceback["operation"] == "update"


def test_serve_log_format_json_writes_task_records_without_secrets(emulator, tmp_path) -> None:
    (tmp_path / "app.py").write_text(APP)
    command = [sys.executable, "-m", "tempest_sdk", "serve", "app.py"]
    command += ["--log-format", "json", "--log-level", "info"]
    code, stderr, created, updated = _serve_two_tasks(emulator, command, _env(emulator), tmp_path)
    assert code == 0, stderr[-2000:].replace(SECRET, "<SECRET>")
    _check_records(stderr, created, updated)
    records = _json_lines(stderr)
    assert any("SIGTERM received" in str(r["message"]) for r in records)


def test_run_sets_up_json_logs_from_the_environment(emulator, tmp_path) -> None:
    (tmp_path / "app.py").write_text(APP)
    env = _env(emulator, TEMPEST_RUNNER_LOG_FORMAT="json")
    command = [sys.executable, "app.py"]
    code, stderr, created, updated = _serve_two_tasks(emulator, command, env, tmp_path)
    assert code == 0, stderr[-2000:].replace(SECRET, "<SECRET>")
    _check_records(stderr, created, updated)
    # The SDK's records from INFO; other libraries' (httpx logs each request) from WARNING.
    assert not any(str(r["logger"]).startswith("httpx") for r in _json_lines(stderr))


def test_run_does_not_reconfigure_a_program_that_configured_logging(emulator, tmp_path) -> None:
    # Without the line where the app's own logger, under the program's own formatter,
    # writes the secret: that one is the program's business.
    app = APP.replace(
        'if __name__ == "__main__":\n',
        "if __name__ == \"__main__\":\n    logging.basicConfig(format='PLAIN %(message)s')\n",
    )
    own_logger = (
        '    logging.getLogger("logs.client").warning("the app\'s own logger sees %s", key)\n'
    )
    app = app.replace(own_logger, "")
    assert "logs.client" not in app
    (tmp_path / "app.py").write_text(app)
    env = _env(emulator, TEMPEST_RUNNER_LOG_FORMAT="json")
    code, stderr, _, _ = _serve_two_tasks(emulator, [sys.executable, "app.py"], env, tmp_path)
    assert code == 0
    leaked = SECRET in stderr
    assert not leaked, "the secret reached the log output"
    assert "PLAIN log_format 'json' not applied: logging is already configured" in stderr
    assert not any(line.startswith("{") for line in stderr.splitlines())


def test_the_runner_guide_shows_the_json_logs_recipe_and_it_works() -> None:
    root = Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "runner.md").read_text("utf-8")
    assert '--8<-- "docs_src/running/json_logs.py"' in guide
    script = (
        "import logging\n"
        "from docs_src.running.json_logs import configure_logging\n"
        "configure_logging()\n"
        "logging.getLogger('tempest_sdk.runner').info('task %s: ok', 't-1', "
        "extra={'task_id': 't-1', 'app_id': 'shop'})\n"
        "logging.getLogger('httpx').info('HTTP Request: POST ...')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (line,) = result.stderr.splitlines()
    record = json.loads(line)
    assert (record["message"], record["task_id"], record["app_id"]) == (
        "task t-1: ok",
        "t-1",
        "shop",
    )
