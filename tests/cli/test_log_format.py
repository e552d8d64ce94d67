"""Every line in the chosen log format: with `--log-format json` (or
`TEMPEST_RUNNER_LOG_FORMAT=json`) each line `serve` writes to stderr is a JSON object,
from the mistakes in its arguments to the line that says why it exits; a traceback
is in `exception`, with the user's frames only. And a closed stdout ends a command
quietly.

Each test runs the real command line in a subprocess, as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tempest_sdk
from tempest_sdk.emulator import Emulator

from .conftest import APPS, CLI, HELLOWORLD

SDK_DIR = str(Path(tempest_sdk.__file__).resolve().parent)
PATIENCE = 120.0

FAILING_LIFESPAN = """\
import os
from collections.abc import AsyncIterator

from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("flags", "v1")


class Props(BaseModel):
    name: str = "f"


flag = app.resource("flag", description="A flag.", properties=Props)


def api_key() -> str:
    return os.environ["FLAGS_API_KEY"]


@app.lifespan
async def lifespan() -> AsyncIterator[None]:
    api_key()
    yield


@flag.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    return resource
"""


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Each line of `stderr` as JSON; fails on the first line that is not."""
    records = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\nin:\n{stderr}") from None
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), record
        records.append(record)
    return records


def exit_record(stderr: str) -> dict[str, Any]:
    """The last line, which says why the process exits."""
    records = json_lines(stderr)
    assert records, "nothing written to stderr"
    last = records[-1]
    assert last["level"] == "ERROR" and last["logger"] == "tempest_sdk.cli", last
    return last


def assert_users_frames_only(traceback: str, user_file: str) -> None:
    frames = [line for line in traceback.splitlines() if line.lstrip().startswith('File "')]
    assert frames, traceback
    assert all(user_file in line or "<frozen" in line for line in frames), frames
    assert SDK_DIR not in traceback


@pytest.fixture(params=["flag", "env"])
def json_via(request: pytest.FixtureRequest) -> str:
    """How JSON is asked for: `--log-format json`, or `TEMPEST_RUNNER_LOG_FORMAT`."""
    return str(request.param)


def serve(
    cli: CLI, json_via: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(env or {})
    if json_via == "flag":
        args = (*args, "--log-format", "json")
    else:
        env["TEMPEST_RUNNER_LOG_FORMAT"] = "json"
    return cli("serve", *args, env=env)


@pytest.fixture
def emulator():
    with Emulator(token="log-format-test-token").serve_in_thread() as emu:
        yield emu


def test_a_refused_token_is_one_json_line(cli, json_via, emulator):
    env = {"TEMPEST_TOKEN": "not-the-right-one", "TEMPEST_API_ENDPOINT": emulator.url}
    result = serve(cli, json_via, str(HELLOWORLD), env=env)
    assert result.returncode == 1, result.stderr
    last = exit_record(result.stderr)
    assert "token" in last["message"].lower(), last
    assert "not-the-right-one" not in result.stderr
    assert result.stdout == ""


def test_an_invalid_runner_variable_is_one_json_line(cli, json_via, emulator):
    env = {
        "TEMPEST_TOKEN": emulator.token,
        "TEMPEST_API_ENDPOINT": emulator.url,
        "TEMPEST_RUNNER_CONCURRENCY": "lots",
    }
    result = serve(cli, json_via, str(HELLOWORLD), env=env)
    assert result.returncode == 1, result.stderr
    (only,) = json_lines(result.stderr)
    assert only == exit_record(result.stderr)
    assert "TEMPEST_RUNNER_CONCURRENCY='lots' is not an integer" in only["message"]
    assert not only["message"].startswith("tempest_sdk:")


@pytest.mark.parametrize("where", ["tempest", "emulator"])
def test_a_failing_lifespan_logs_the_users_frames_in_exception(
    cli, json_via, emulator, tmp_path, where
):
    (tmp_path / "flags.py").write_text(FAILING_LIFESPAN)
    if where == "emulator":
        result = serve(cli, json_via, "flags.py", "--emulator")
    else:
        env = {"TEMPEST_TOKEN": emulator.token, "TEMPEST_API_ENDPOINT": emulator.url}
        result = serve(cli, json_via, "flags.py", env=env)
    assert result.returncode == 1, result.stderr
    records = json_lines(result.stderr)
    last = exit_record(result.stderr)
    assert last["message"].startswith(
        "the lifespan of app flags v1 failed: KeyError: 'FLAGS_API_KEY'"
    ), last
    (logged,) = [r for r in records if "exception" in r]
    assert logged["logger"] == "tempest_sdk.runner"
    assert logged["app_id"] == "flags" and logged["app_version"] == "v1"
    assert "Traceback" not in logged["message"]
    assert logged["exception"].startswith("Traceback (most recent call last):")
    assert "\nKeyError: 'FLAGS_API_KEY'\n(" in logged["exception"]
    assert logged["exception"].endswith("left out; TEMPEST_FULL_TRACEBACKS=1 shows them)")
    assert_users_frames_only(logged["exception"], "flags.py")
    assert "RunnerStartupError" not in result.stderr


def test_an_import_error_of_the_app_is_one_json_line_with_its_traceback(cli, json_via):
    result = serve(cli, json_via, str(APPS / "broken.py"))
    assert result.returncode == 1, result.stderr
    (only,) = json_lines(result.stderr)
    assert only == exit_record(result.stderr)
    assert only["message"].startswith("importing ") and "raised KeyError" in only["message"]
    assert "Traceback" not in only["message"]
    assert only["exception"].startswith("Traceback (most recent call last):")
    assert only["exception"].endswith("KeyError: 'SHOP_DATABASE_URL'")
    assert_users_frames_only(only["exception"], "broken.py")


@pytest.mark.parametrize(
    ("args", "said", "code"),
    [
        # argparse's own checks
        (["--concurrency", "x"], "argument --concurrency: invalid int value: 'x'", 2),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag", 2),
        # the command's checks
        (["--keep-serving"], "--keep-serving", 2),
        (["--reload", "--emulator", "--endpoint", "http://x"], "--endpoint", 2),
    ],
)
def test_argument_mistakes_are_json_lines(cli, json_via, args, said, code):
    result = serve(cli, json_via, str(HELLOWORLD), *args)
    assert result.returncode == code, result.stderr
    (only,) = json_lines(result.stderr)
    assert only == exit_record(result.stderr)
    assert said in only["message"], only
    assert result.stdout == ""


def test_a_bad_reference_is_a_json_line(cli, json_via):
    result = serve(cli, json_via, "app.py:")
    assert result.returncode == 2
    (only,) = json_lines(result.stderr)
    assert "app reference 'app.py:' is malformed" in only["message"]


def test_text_stays_text(cli, emulator):
    env = {"TEMPEST_TOKEN": emulator.token, "TEMPEST_RUNNER_CONCURRENCY": "lots"}
    result = cli("serve", str(HELLOWORLD), env={**env, "TEMPEST_API_ENDPOINT": emulator.url})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "tempest_sdk: TEMPEST_RUNNER_CONCURRENCY='lots' is not an integer"
    )
    result = cli("serve", str(HELLOWORLD), "--concurrency", "x")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: tempest-sdk serve")
    assert result.stderr.splitlines()[-1] == (
        "tempest-sdk serve: error: argument --concurrency: invalid int value: 'x'"
    )


def test_serve_emulator_reports_a_failing_lifespan_like_serve(cli, tmp_path):
    """Issue 25: one line that says why, and a traceback of the user's frames only."""
    (tmp_path / "flags.py").write_text(FAILING_LIFESPAN)
    result = cli("serve", "flags.py", "--emulator")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    said = [line for line in lines if line.startswith("tempest_sdk: ")]
    assert said == [lines[-1]]
    assert lines[-1].startswith("tempest_sdk: the lifespan of app flags v1 failed: KeyError")
    assert "RunnerStartupError" not in result.stderr
    traceback = result.stderr[result.stderr.index("Traceback") :]
    assert_users_frames_only(traceback, "flags.py")
    # The frames left: the lifespan's call to api_key(), and api_key's line.
    frames = [line for line in lines if 'flags.py"' in line]
    assert [f.rpartition(" in ")[2] for f in frames] == ["lifespan", "api_key"]


STUCK_APP = """\
import threading

from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("stuck", "v1")
NEVER = threading.Event()


class Props(BaseModel):
    name: str = "s"


job = app.resource("job", description="A job.", properties=Props)


@job.create
def create(input: Props) -> tempest.Resource:
    NEVER.wait()  # a plain handler that never returns: its thread is stuck
    raise AssertionError("unreachable")
"""


def test_a_whole_run_and_the_stuck_thread_warning_are_json_lines(emulator, tmp_path):
    (tmp_path / "stuck.py").write_text(STUCK_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(
        TEMPEST_TOKEN=emulator.token,
        TEMPEST_API_ENDPOINT=emulator.url,
        TEMPEST_RUNNER_TASK_TIMEOUT="0.2",
        TEMPEST_RUNNER_LOG_FORMAT="json",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", "serve", "stuck.py", "--log-level", "info"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        task = emulator.enqueue_operation("stuck", "v1", "job", "create")
        emulator.wait_for_reports(1, timeout=PATIENCE)
        (report,) = emulator.reports(task)
        assert report["status"] == "error"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    records = json_lines(stderr)
    messages = [r["message"] for r in records]
    assert any(m.startswith("SIGTERM received: stopping") for m in messages), messages
    (stuck,) = [r for r in records if "handler thread(s) that have not returned" in r["message"]]
    assert stuck["level"] == "WARNING"
    assert records[-1] == stuck


# -- a closed stdout ------------------------------------------------------------------


def _with_closed_stdout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The reader end is closed before the command writes a byte: its first write
    # fails, as it does once `head` has read its lines and gone.
    read, write = os.pipe()
    os.close(read)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
        return subprocess.run(
            [sys.executable, "-m", "tempest_sdk", *args],
            cwd=cwd,
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=PATIENCE,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["describe", str(HELLOWORLD)],
        ["describe", str(HELLOWORLD), "--json"],
        ["serve", str(HELLOWORLD), "--emulator"],
        ["serve", str(HELLOWORLD), "--emulator", "--json"],
    ],
)
def test_a_closed_stdout_ends_the_command_quietly_with_141(args, tmp_path):
    result = _with_closed_stdout(*args, cwd=tmp_path)
    assert result.stderr == ""
    assert result.returncode == 141


def test_keep_serving_says_where_and_the_token_in_json_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    args = ["serve", str(HELLOWORLD), "--emulator", "--keep-serving", "--log-format", "json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", *args],
        cwd=tmp_path,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "Press Ctrl-C to stop." in line:
                break
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    records = json_lines("".join(lines))
    messages = [r["message"] for r in records]
    (still,) = [m for m in messages if m.startswith("Still serving. Emulator: http://127.0.0.1:")]
    token = still.rpartition("token: ")[2]
    assert token.startswith("emu-") and token != "emulator-token"
    assert any(m.strip().startswith("tempest-sdk enqueue ") and token in m for m in messages)


FAILING_HANDLER = """\
from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("failing", "v1")


class Props(BaseModel):
    name: str = "f"


thing = app.resource("thing", description="A thing.", properties=Props)


def call_backend() -> None:
    raise ValueError("the backend said no")


@thing.create
async def create(input: Props) -> tempest.Resource:
    call_backend()
    raise AssertionError("unreachable")
"""


def test_a_handlers_traceback_is_in_exception_not_message(cli, tmp_path):
    (tmp_path / "failing.py").write_text(FAILING_HANDLER)
    tasks = [{"type": "thing", "operation": "create"}]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    result = cli(
        "serve", "failing.py", "--emulator", "--tasks", "tasks.json", "--log-format", "json"
    )
    assert result.returncode == 1, result.stderr
    records = json_lines(result.stderr)
    (failed,) = [r for r in records if r.get("task_id") and r["level"] == "ERROR"]
    assert failed["message"].endswith("ValueError: the backend said no"), failed
    assert "Traceback" not in failed["message"]
    assert "\nValueError: the backend said no\n" in failed["exception"]
    assert_users_frames_only(failed["exception"], "failing.py")
