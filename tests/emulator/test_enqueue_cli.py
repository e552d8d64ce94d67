"""`tempest-sdk enqueue`, run as a subprocess against a real emulator on 127.0.0.1 that the
test serves, with the real runner executing what it enqueues."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from tempest_sdk.emulator import Emulator
from tempest_sdk.models import EnvironmentVariableType, ExecuteResourceOperationRequest
from tempest_sdk.runner import Runner

from .apps.notes import app as notes

NOTES = Path(__file__).parent / "apps" / "notes.py"
HELLOWORLD = Path(__file__).resolve().parents[2] / "examples" / "helloworld" / "app.py"
SECRET = "s3cr3t-value"
TOKEN = "enqueue-test-token"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m tempest_sdk ARGS`, without the developer's own Tempest settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    return subprocess.run(
        [sys.executable, "-m", "tempest_sdk", *args],
        cwd=cwd,
        env={**base, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def enqueue_args(emulator: Emulator, *args: str) -> list[str]:
    return ["enqueue", "--url", emulator.url, "--token", emulator.token,
            "--app", "notes", "--version", "v1", *args]  # fmt: skip


async def with_runner(emulator: Emulator, scenario: Callable[[], Awaitable[None]]) -> None:
    """Serve `emulator` on loopback with the real runner serving the notes app around `scenario`."""
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(notes, client=client, poll_interval_max=0.1),
    ):
        await scenario()


async def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return await anyio.to_thread.run_sync(functools.partial(cli, *args, cwd=cwd))


async def test_create_with_variables_and_a_secret_file_waits_for_the_report(tmp_path):
    emulator = Emulator(token=TOKEN)
    (tmp_path / "key.txt").write_text(SECRET + "\n")
    results = []

    async def scenario() -> None:
        results.append(
            await run_cli(
                *enqueue_args(emulator, "operation", "create", "--type", "note",
                              "--input", '{"text": "hi"}', "--env", "REGION=eu",
                              "--secret", "NOTE_KEY=@key.txt", "--wait"),
                cwd=tmp_path,
            )
        )  # fmt: skip

    await with_runner(emulator, scenario)

    (result,) = results
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "ok"
    assert report["response"]["resource"]["properties"] == {
        "text": "hi",
        "region": "eu",
        "secret_ok": True,
    }
    assert f"Enqueued task {report['task_id']}; waiting for its report" in result.stderr
    task = emulator.task(report["task_id"])
    assert isinstance(task.task, ExecuteResourceOperationRequest)
    kinds = {v.name: v.type for v in task.task.environment_variables or []}
    assert kinds == {"REGION": EnvironmentVariableType.VARIABLE,
                     "NOTE_KEY": EnvironmentVariableType.SECRET}  # fmt: skip
    assert SECRET not in result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr


async def test_an_error_report_exits_1_and_a_list_exits_0(tmp_path):
    emulator = Emulator(token=TOKEN)
    results = {}

    async def scenario() -> None:
        results["action"] = await run_cli(
            *enqueue_args(emulator, "action", "archive", "--type", "note",
                          "--external-id", "note-7", "--wait"),
            cwd=tmp_path,
        )  # fmt: skip
        results["list"] = await run_cli(
            *enqueue_args(emulator, "list", "--type", "note", "--wait", "--timeout", "60"),
            cwd=tmp_path,
        )

    await with_runner(emulator, scenario)

    action, listing = results["action"], results["list"]
    assert action.returncode == 1, action.stderr
    failed = json.loads(action.stdout)
    assert failed["status"] == "error" and failed["response"] is None
    assert "cannot archive note-7: the archive is closed" in failed["message"]
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)["response"] == {
        "response_type": "list_resources",
        "resources": [],
        "next": "",
    }
    assert emulator.violations == []


def test_the_same_on_trio(tmp_path):
    emulator = Emulator(token=TOKEN)
    results = []

    async def scenario() -> None:
        results.append(
            await run_cli(*enqueue_args(emulator, "list", "--type", "note", "--wait"), cwd=tmp_path)
        )

    anyio.run(with_runner, emulator, scenario, backend="trio")

    assert results[0].returncode == 0, results[0].stderr
    assert json.loads(results[0].stdout)["status"] == "ok"


def test_without_wait_it_prints_only_the_task_id(tmp_path):
    emulator = Emulator(token=TOKEN)
    with emulator.serve_in_thread():
        result = cli(*enqueue_args(emulator, "operation", "read", "--type", "note",
                                   "--external-id", "note-1"), cwd=tmp_path)  # fmt: skip

    assert result.returncode == 0, result.stderr
    task_id = result.stdout.strip()
    assert result.stdout == task_id + "\n"
    assert emulator.queued("notes", "v1") == [task_id]
    assert emulator.task(task_id).task.resource.external_id == "note-1"


def test_no_report_in_time_exits_1_saying_where_the_task_is(tmp_path):
    emulator = Emulator(token=TOKEN)
    with emulator.serve_in_thread():
        result = cli(*enqueue_args(emulator, "list", "--type", "note", "--wait",
                                   "--timeout", "0.2"), cwd=tmp_path)  # fmt: skip

    assert result.returncode == 1
    assert "no report for task" in result.stderr
    assert "it is queued (handed out 0 times). Is an app serving notes v1" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["list", "--type", "note", "--input", "{}", "--env", "A=1"],
            "--input, --env does not apply to list (list tasks carry no input and no "
            "variables); it takes: --next",
        ),
        (
            ["operation", "create", "--type", "note", "--external-id", "x"],
            "--external-id does not apply to create; it takes: --input, --env, --secret",
        ),
        (
            ["operation", "read", "--type", "note", "--input", "{}"],
            "--input does not apply to read; it takes: --external-id, --env, --secret",
        ),
        (
            ["action", "archive", "--type", "note", "--next", "abc"],
            "--next does not apply to action 'archive'; it takes: --external-id, --input",
        ),
        (["operation", "destroy", "--type", "note"], "operation needs one of create, read"),
        (["operation", "--type", "note"], "operation needs one of create, read, update, delete"),
        (["action", "--type", "note"], "action needs the action's name"),
        (["list", "extra", "--type", "note"], "list takes no name (got 'extra')"),
        (["list", "--type", "note", "--timeout", "3"], "--timeout goes with --wait"),
        (["operation", "create", "--type", "note", "--input", "[1]"], "must be a JSON object"),
        (["operation", "create", "--type", "note", "--secret", "MISSING_VAR_XYZ"],
         "no environment variable MISSING_VAR_XYZ"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_and_say_what_applies(tmp_path, args, message):
    emulator = Emulator(token=TOKEN)
    with emulator.serve_in_thread():
        result = cli(*enqueue_args(emulator, *args), cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert emulator.queued() == []


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:8900/api/v1", "http://10.1.2.3:8900/api/v1", "http://example.com:80"]
)
def test_only_a_loopback_emulator_is_ever_called(tmp_path, url):
    result = cli("enqueue", "--url", url, "--token", TOKEN, "--app", "notes", "--version", "v1",
                 "list", "--type", "note", cwd=tmp_path)  # fmt: skip

    assert result.returncode == 2
    assert "--url must be a local emulator's address" in result.stderr
    assert TOKEN not in result.stderr


def test_the_emulator_refuses_a_wrong_token_or_app_id_and_says_so(tmp_path):
    emulator = Emulator(token=TOKEN)
    with emulator.serve_in_thread():
        wrong_token = cli("enqueue", "--url", emulator.url, "--token", "my-real-tempest-token",
                          "--app", "notes", "--version", "v1", "list", "--type", "note",
                          cwd=tmp_path)  # fmt: skip
        wrong_app = cli("enqueue", "--url", emulator.url, "--token", TOKEN, "--app", "Notes App",
                        "--version", "v1", "list", "--type", "note", cwd=tmp_path)  # fmt: skip

    assert wrong_token.returncode == 2
    assert "the emulator refused the token" in wrong_token.stderr
    assert "my-real-tempest-token" not in wrong_token.stderr + wrong_token.stdout
    assert wrong_app.returncode == 2
    assert "app_id: expected an app id like 'my-app'" in wrong_app.stderr
    assert emulator.queued() == []


def test_an_emulator_that_is_not_running_exits_1(tmp_path):
    emulator = Emulator(token=TOKEN)
    with emulator.serve_in_thread():
        url = emulator.url  # a port that was free a moment ago, and is again
    result = cli("enqueue", "--url", url, "--token", TOKEN, "--app", "notes", "--version", "v1",
                 "list", "--type", "note", cwd=tmp_path)  # fmt: skip

    assert result.returncode == 1
    assert "cannot reach the emulator at http://127.0.0.1:" in result.stderr
    assert "tempest-sdk emulator, or serve --emulator --keep-serving" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_keep_serving_prints_an_enqueue_command_that_works(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", "serve", str(HELLOWORLD), "--emulator",
         "--keep-serving"],
        cwd=tmp_path, env={**base, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert serve.stderr is not None
        lines = []
        for line in serve.stderr:
            lines.append(line)
            if line.startswith("Press Ctrl-C to stop."):
                break
        commands = [line.strip() for line in lines if line.strip().startswith("tempest-sdk enq")]
        assert commands, "".join(lines)
        hint = commands[0]
        result = cli(*hint.split()[1:], cwd=tmp_path)
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.communicate(timeout=30)
        finally:
            serve.kill()
            serve.wait(timeout=10)

    assert "Enqueue more tasks from another terminal, e.g.:" in "".join(lines)
    # A random token, made for this emulator, unless one is given.
    token = re.search(
        r" --token (\S+) --app helloworld --version v1 list --type example --wait$", hint
    )
    assert token is not None, hint
    assert re.fullmatch(r"emu-[A-Za-z0-9_-]{24}", token[1]), hint
    assert f"token: {token[1]}" in "".join(lines)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "ok"
    assert report["response"]["response_type"] == "list_resources"


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_the_standalone_emulator_takes_tasks_from_enqueue(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", "emulator", "--token", TOKEN],
        cwd=tmp_path, env={**base, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert emulator.stdout is not None
        banner = [emulator.stdout.readline() for _ in range(7)]
        url = banner[0].split(" at ")[1].strip()
        result = cli("enqueue", "--url", url, "--token", TOKEN, "--app", "notes", "--version",
                     "v1", "operation", "create", "--type", "note", cwd=tmp_path)  # fmt: skip
    finally:
        emulator.send_signal(signal.SIGINT)
        try:
            out, _ = emulator.communicate(timeout=30)
        finally:
            emulator.kill()
            emulator.wait(timeout=10)

    assert banner[4] == "Enqueue tasks from another terminal with:\n"
    assert banner[5].strip() == (
        f"tempest-sdk enqueue --url {url} --token {TOKEN} --app APP --version VERSION "
        "list --type TYPE --wait"
    )
    assert result.returncode == 0, result.stderr
    assert "0 tasks reported, 1 queued, 0 leased" in out
