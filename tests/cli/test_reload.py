"""`serve --reload`: a change while a slow task runs lets the old code report it and
the new code serve the next; code that fails to import leaves the old code serving.

Each test starts the real `tempest-sdk serve --reload` in a subprocess, with the real
runner in its children, against a real emulator on 127.0.0.1. The slow handler waits
for a file the test creates, so nothing depends on timing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from tempest_sdk._cli._errors import CLIError
from tempest_sdk._cli._reload import OUTBOX_ENV, _watch_filter, outbox_of, watch_roots
from tempest_sdk.emulator import Emulator

pytest.importorskip("watchfiles")

# Only guards against a broken build hanging the suite; no test measures time.
PATIENCE = 120.0


def _app(generation: str, *, slow: bool, fail: bool = False) -> str:
    """An app whose create shows which code served it: in the resource's display name,
    or (`fail`) in the error message. With `slow`, a create of "slow" waits for the
    test's `release` file."""
    outcome = (
        f"raise tempest.TaskError('served by {generation}')"
        if fail
        else "return tempest.Resource(external_id='j-' + input.name, "
        f"display_name='{generation}', properties={{'name': input.name}})"
    )
    return textwrap.dedent(
        f"""
        import time
        from pathlib import Path

        from pydantic import BaseModel

        import tempest_sdk as tempest

        SIGNALS = Path(__file__).parent / "signals"
        app = tempest.App("reload", version="v1")


        class Input(BaseModel):
            name: str = "fast"


        job = app.resource("job", display_name="Job", description="A job.", properties=Input)


        @job.create
        def create(ctx: tempest.Context, input: Input) -> tempest.Resource:
            if {slow!r} and input.name == "slow":
                (SIGNALS / "started").touch()
                while not (SIGNALS / "release").exists():
                    time.sleep(0.01)
            {outcome}
        """
    )


class Supervisor:
    """`tempest-sdk serve --reload` in a subprocess, its output collected as it comes."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str],
        python: tuple[str, ...] = ("-m", "tempest_sdk"),
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *python, "serve", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self.out)

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self.err)

    def wait_until(self, done: Any, what: str) -> Any:
        """Wait until `done()` returns something true; fail, saying `what`, if the
        supervisor exits first."""
        deadline = time.monotonic() + PATIENCE
        with self._changed:
            while True:
                value = done()
                if value:
                    return value
                if self.process.poll() is not None and not any(r.is_alive() for r in self._readers):
                    raise AssertionError(f"serve --reload exited before {what}:\n{self.stderr}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"still waiting for {what}:\n{self.stderr}")
                self._changed.wait(timeout=0.5)

    def wait_for_stderr(self, text: str, count: int = 1) -> None:
        self.wait_until(lambda: self.stderr.count(text) >= count, f"{count} x {text!r}")

    def children(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"\(process (\d+)\)", self.stderr)]

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=PATIENCE)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(timeout=30)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if status.parent.parent.is_dir():
        try:
            return "\nState:\tZ" not in status.read_text()
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_file(path: Path, supervisor: Supervisor) -> None:
    supervisor.wait_until(path.exists, f"{path.name} to appear")


def _env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(NO_COLOR="1", **more)
    return env


def _display_name(emulator: Emulator, task_id: str) -> str:
    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok", report
    name: str = report["response"]["resource"]["display_name"]
    return name


@pytest.fixture
def emulator():
    with Emulator(token="reload-test-token").serve_in_thread() as emu:
        yield emu


def test_reload_drains_the_old_code_and_serves_the_next_task_with_the_new(
    emulator: Emulator, tmp_path: Path
) -> None:
    app = tmp_path / "app.py"
    signals = tmp_path / "signals"
    signals.mkdir()
    app.write_text(_app("gen1", slow=True))
    env = _env(TEMPEST_TOKEN=emulator.token, TEMPEST_API_ENDPOINT=emulator.url)
    supervisor = Supervisor(["app.py", "--reload", "--connect"], tmp_path, env)
    try:
        supervisor.wait_for_stderr("reload: serving reload v1 (process")
        slow = emulator.enqueue_operation("reload", "v1", "job", "create", input={"name": "slow"})
        _wait_for_file(signals / "started", supervisor)

        app.write_text(_app("gen2", slow=False))
        supervisor.wait_for_stderr("app.py modified; loading the new code")
        # The old child was told to stop while its task runs: it drains, then exits.
        supervisor.wait_for_stderr("SIGTERM received: stopping")
        assert emulator.reports(slow) == []
        (signals / "release").touch()
        supervisor.wait_for_stderr("reload: serving reload v1 (process", count=2)
        assert _display_name(emulator, slow) == "gen1"
        fast = emulator.enqueue_operation("reload", "v1", "job", "create")
        emulator.wait_for_reports(2, timeout=PATIENCE)
        assert _display_name(emulator, fast) == "gen2"

        app.write_text("import tempest_sdk as tempest\n\napp = tempest.App(  # unfinished\n")
        supervisor.wait_for_stderr("SyntaxError")
        supervisor.wait_for_stderr("the previous code serves on until the next change")
        still = emulator.enqueue_operation("reload", "v1", "job", "create")
        emulator.wait_for_reports(3, timeout=PATIENCE)
        assert _display_name(emulator, still) == "gen2"

        app.write_text(_app("gen3", slow=False))
        supervisor.wait_for_stderr("reload: serving reload v1 (process", count=3)
        fixed = emulator.enqueue_operation("reload", "v1", "job", "create")
        emulator.wait_for_reports(4, timeout=PATIENCE)
        assert _display_name(emulator, fixed) == "gen3"
    finally:
        code = supervisor.stop()
    assert code == 0, supervisor.stderr
    children = supervisor.children()
    assert len(children) == 3
    assert not [pid for pid in children if _alive(pid)]
    # Every generation connected; every report arrived once.
    assert len(emulator.connects) == 3
    assert emulator.duplicate_reports == 0
    assert emulator.violations == []


def test_a_child_stops_by_itself_when_its_supervisor_is_killed(
    emulator: Emulator, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(_app("gen1", slow=False))
    env = _env(TEMPEST_TOKEN=emulator.token, TEMPEST_API_ENDPOINT=emulator.url)
    supervisor = Supervisor(["app.py", "--reload"], tmp_path, env)
    try:
        supervisor.wait_for_stderr("reload: serving reload v1 (process")
        (child,) = supervisor.children()
    finally:
        supervisor.stop(signal.SIGKILL)
    # Its stdin closed with the supervisor: it stops gracefully, in its own session.
    deadline = time.monotonic() + PATIENCE
    while _alive(child):
        assert time.monotonic() < deadline, f"process {child} serves on, orphaned"
        time.sleep(0.05)


def _json_runs(text: str) -> list[list[dict[str, Any]]]:
    decoder = json.JSONDecoder()
    runs: list[list[dict[str, Any]]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return runs
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return runs  # the next run is still being written
        runs.append(value)


def test_reload_with_the_emulator_keeps_it_and_runs_the_tasks_again(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    signals = tmp_path / "signals"
    signals.mkdir()
    app.write_text(_app("gen1", slow=True, fail=True))
    tasks = [
        {"type": "job", "operation": "create", "input": {"name": "slow"}},
        {"type": "job", "operation": "create", "input": {"name": "fast"}},
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    args = ["app.py", "--emulator", "--reload", "--tasks", "tasks.json", "--json"]
    supervisor = Supervisor(args, tmp_path, _env())

    def messages(count: int) -> Any:
        runs = _json_runs(supervisor.stdout)
        if len(runs) < count:
            return None
        # "create of 'job' failed: served by gen1" -> "gen1"
        return [[r["message"].rpartition("served by ")[2] for r in run] for run in runs]

    try:
        _wait_for_file(signals / "started", supervisor)
        app.write_text(_app("gen2", slow=False, fail=True))
        supervisor.wait_for_stderr("SIGTERM received: stopping")
        (signals / "release").touch()
        # The run in progress ends on the new code; the reload runs the tasks again.
        first, second = supervisor.wait_until(lambda: messages(2), "two runs")
        assert first == ["gen1", "gen2"]
        assert second == ["gen2", "gen2"]

        app.write_text("app = (\n")
        supervisor.wait_for_stderr("the previous code serves on until the next change")
        app.write_text(_app("gen3", slow=False, fail=True))
        runs = supervisor.wait_until(lambda: messages(3), "a third run")
        assert runs[2] == ["gen3", "gen3"]
    finally:
        code = supervisor.stop(signal.SIGINT)
    assert code == 0, supervisor.stderr
    assert "SIGINT received: stopping" in supervisor.stderr
    assert "reload: serving against the local emulator at http://127.0.0.1:" in supervisor.stderr
    assert not [pid for pid in supervisor.children() if _alive(pid)]


def test_reload_leaves_options_that_do_not_apply_to_the_cli(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("raise SystemExit('must not be imported')\n")
    result = subprocess.run(
        [sys.executable, "-m", "tempest_sdk", "serve", "app.py", "--reload", "--tasks", "t.json"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert result.returncode == 2
    assert "--tasks, --keep-serving, --json and --act-on-existing-resources go with --emulator" in (
        result.stderr
    )
    missing = subprocess.run(
        [sys.executable, "-m", "tempest_sdk", "serve", "nowhere/app.py", "--reload"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        check=False,
    )
    assert missing.returncode == 2
    assert "no such file: 'nowhere/app.py'" in missing.stderr


def test_watch_roots_are_the_app_folders_or_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "app.py").write_text("")
    (tmp_path / "pkg" / "sub" / "other.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert watch_roots(["pkg/app.py:app"]) == [(tmp_path / "pkg").resolve()]
    # A folder inside a watched one is watched already.
    assert watch_roots(["pkg/sub/other.py", "pkg/app.py"]) == [(tmp_path / "pkg").resolve()]
    assert watch_roots(["mypackage.app:app"]) == [tmp_path.resolve()]
    with pytest.raises(CLIError, match=r"no such file: 'pkg/missing\.py'"):
        watch_roots(["pkg/missing.py"])
    with pytest.raises(CLIError, match="malformed"):
        watch_roots(["pkg.app:"])


def test_the_watch_filter_takes_code_and_data_files_only(tmp_path: Path) -> None:
    from watchfiles import Change

    outbox = tmp_path / "outbox"
    accept = _watch_filter([outbox])
    assert accept(Change.modified, str(tmp_path / "app.py"))
    assert accept(Change.added, str(tmp_path / "schema" / "create.json"))
    assert accept(Change.deleted, str(tmp_path / "config.yaml"))
    assert not accept(Change.modified, str(tmp_path / "notes.txt"))
    assert not accept(Change.modified, str(tmp_path / "__pycache__" / "app.cpython-311.pyc"))
    assert not accept(Change.modified, str(tmp_path / ".git" / "index.json"))
    assert not accept(Change.added, str(outbox / "task-1.json"))


def test_the_outbox_is_never_watched_however_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(OUTBOX_ENV, raising=False)
    assert outbox_of(None) is None  # the runner keeps none by default
    monkeypatch.setenv(OUTBOX_ENV, "state/outbox")
    assert outbox_of(None) == (tmp_path / "state" / "outbox").resolve()
    assert outbox_of("flag-outbox") == (tmp_path / "flag-outbox").resolve()
    monkeypatch.setenv(OUTBOX_ENV, "  ")
    assert outbox_of(None) is None


def test_reports_written_to_an_outbox_set_by_environment_do_not_reload(tmp_path: Path) -> None:
    """The outbox inside the watched folder, set by TEMPEST_RUNNER_OUTBOX: each report
    writes and deletes a file there, and none of that is a change of the app."""
    app = tmp_path / "app.py"
    app.write_text(_app("gen1", slow=False))
    outbox = tmp_path / "outbox"
    tasks = [{"type": "job", "operation": "create", "input": {"name": f"t{i}"}} for i in range(8)]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    env = _env(**{OUTBOX_ENV: "outbox"})
    args = ["app.py", "--emulator", "--reload", "--tasks", "tasks.json", "--json"]
    supervisor = Supervisor(args, tmp_path, env)
    try:
        supervisor.wait_until(lambda: len(_json_runs(supervisor.stdout)) >= 1, "the first run")
        # The outbox was used: the runner made it and wrote its reports there.
        assert outbox.is_dir()
        # An edit of the app is the barrier: a change of the outbox before it would show
        # in an earlier notice or in this one.
        app.write_text(_app("gen2", slow=False))
        supervisor.wait_for_stderr("loading the new code")
        supervisor.wait_until(lambda: len(_json_runs(supervisor.stdout)) >= 2, "the second run")
    finally:
        code = supervisor.stop()
    assert code == 0, supervisor.stderr
    notices = [line for line in supervisor.stderr.splitlines() if "loading the new code" in line]
    assert notices == ["reload: app.py modified; loading the new code"], supervisor.stderr
    runs = _json_runs(supervisor.stdout)
    assert len(runs) == 2
    assert [[r["status"] for r in run if r["name"] == "create"] for run in runs] == [["ok"] * 8] * 2


def test_a_tempest_sdk_folder_in_the_working_directory_does_not_shadow_the_sdk(
    tmp_path: Path,
) -> None:
    decoy = tmp_path / "tempest_sdk"
    decoy.mkdir()
    for name in ("__init__.py", "__main__.py"):
        (decoy / name).write_text(
            "raise SystemExit('DECOY: the working folder shadowed the SDK')\n"
        )
    (tmp_path / "app.py").write_text(_app("gen1", slow=False))
    # The supervisor starts as the installed `tempest-sdk` script does, working folder
    # left out of the path; its children must do the same.
    args = ["app.py", "--emulator", "--reload", "--json"]
    supervisor = Supervisor(args, tmp_path, _env(), python=("-P", "-m", "tempest_sdk"))
    try:
        runs = supervisor.wait_until(lambda: _json_runs(supervisor.stdout), "the first run")
    finally:
        code = supervisor.stop()
    assert code == 0, supervisor.stderr
    assert "DECOY" not in supervisor.stderr
    assert runs[0][0]["status"] == "ok", runs  # the create, by the real SDK
    # And the app's own module next to the decoy still imports, as a module reference.
    (tmp_path / "myapp.py").write_text(_app("gen1", slow=False))
    supervisor = Supervisor(
        ["myapp:app", "--emulator", "--reload", "--json"],
        tmp_path,
        _env(),
        python=("-P", "-m", "tempest_sdk"),
    )
    try:
        runs = supervisor.wait_until(lambda: _json_runs(supervisor.stdout), "the first run")
    finally:
        code = supervisor.stop()
    assert code == 0, supervisor.stderr
    assert "DECOY" not in supervisor.stderr
    assert runs[0][0]["status"] == "ok", runs
