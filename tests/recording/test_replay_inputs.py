"""Replay's bad input: a clear error naming the file and line, exit 2; `--keep-going`
replays the readable lines; masked secrets must be given; filters and ignored fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tempest_sdk._recordings import RecordingError, encode_record
from tempest_sdk.models import Task, TaskReport
from tempest_sdk.testing import replay

from .apps.notes import build
from .conftest import SECRET

APPS = Path(__file__).parent / "apps"


def task(task_id: str, title: str, *, app_secret: bool = True) -> Task:
    env = [{"name": "API_KEY", "value": SECRET, "type": "secret"}] if app_secret else []
    return Task.from_wire(
        {
            "task_id": task_id,
            "task": {
                "request_type": "execute_resource_operation",
                "operation": "create",
                "resource": {"type": "note", "external_id": "", "display_name": ""},
                "input": {"title": title},
                "environment_variables": env,
            },
            "metadata": {
                "owners": [],
                "author": {"email": "a@example.com", "name": "A", "type": "user"},
                "project_id": "p1",
                "project_name": "P",
            },
        }
    )


def record(task_id: str, title: str, words: int, *, app_id: str = "notes") -> bytes:
    report = TaskReport.of_resource(
        task_id,
        {  # type: ignore[arg-type]
            "type": "note",
            "external_id": title.replace(" ", "-"),
            "display_name": title,
            "properties": {"title": title, "words": words},
        },
    )
    return encode_record(
        app_id=app_id,
        version="v1",
        task=task(task_id, title),
        report=report,
        started_at=0.0,
        duration=0.01,
    )


@pytest.fixture
def recording(tmp_path) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_bytes(
        record("t-1", "one two", 2)
        + b'{"format": 1, "app_id": \n'
        + record("t-3", "three", 1)
        + record("t-4", "four four four", 99)  # recorded wrong: differs on replay
    )
    return path


def test_a_malformed_line_stops_the_replay_naming_it(recording):
    with pytest.raises(RecordingError, match=r"tasks\.jsonl, line 2: not a JSON record"):
        replay(recording, build("v1"), secrets={"API_KEY": "x"}, writes=True)


def test_keep_going_replays_the_other_lines(recording):
    results = replay(recording, build("v1"), secrets={"API_KEY": "x"}, keep_going=True, writes=True)
    assert [(r.line, r.status) for r in results] == [
        (1, "match"),
        (2, "unreadable"),
        (3, "match"),
        (4, "differs"),
    ]
    assert "line 2: not a JSON record" in results[1].problem
    assert not results[1].matches


def test_a_masked_secret_must_be_given(recording, tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_bytes(record("t-1", "one two", 2))
    with pytest.raises(RecordingError, match=r"value of API_KEY masked: give it with --secret"):
        replay(path, build("v1"), environ={}, writes=True)
    # ... or found in the environment by name.
    (result,) = replay(path, build("v1"), environ={"API_KEY": "from-env"}, writes=True)
    assert result.matches


def test_only_and_ignore(recording):
    results = replay(
        recording,
        build("v1"),
        secrets={"API_KEY": "x"},
        keep_going=True,
        only="task=t-4",
        ignore=["response.resource.properties.words"],
        writes=True,
    )
    # The unreadable line is not selected by task id: it cannot be read to tell.
    assert [(r.line, r.status) for r in results] == [(2, "unreadable"), (4, "match")]
    assert results[1].ignored == ("task_id", "response.resource.properties.words")


def test_tasks_of_other_apps_are_skipped_and_none_at_all_is_an_error(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_bytes(record("t-1", "one", 1, app_id="billing"))
    with pytest.raises(RecordingError, match=r"holds no task of app 'notes'; .* billing v1 \(1\)"):
        replay(path, build("v1"), secrets={"API_KEY": "x"}, writes=True)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="holds no record"):
        replay(empty, build("v1"), writes=True)


def test_replay_refuses_to_run_inside_an_event_loop(recording):
    import anyio

    async def inside():
        replay(recording, build("v1"), writes=True)

    with pytest.raises(RuntimeError, match="use `await areplay"):
        anyio.run(inside)


# -- the command line ----------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path):
    from tests.cli.conftest import CLI

    return CLI(tmp_path)


def test_cli_exit_2_on_a_malformed_line_naming_it(cli, recording):
    result = cli(
        "replay", "--writes", str(recording), str(APPS / "notes_v1.py"), "--secret", "API_KEY=x"
    )
    assert result.returncode == 2
    assert "tasks.jsonl, line 2: not a JSON record" in result.stderr
    assert result.stdout == ""


def test_cli_keep_going_prints_every_line_and_still_exits_2(cli, recording):
    result = cli(
        "replay",
        "--writes",
        str(recording),
        str(APPS / "notes_v1.py"),
        "--secret",
        "API_KEY=x",
        "--keep-going",
    )
    assert result.returncode == 2, result.stderr
    assert "3 replayed, 2 match, 1 differ, 1 unreadable" in result.stdout
    assert "line 2: not a JSON record" in result.stdout
    assert "+" + '"words":3' in {line.replace(" ", "") for line in result.stdout.splitlines()}


def test_cli_json(cli, tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(record("t-1", "one two", 2) + record("t-2", "a b c", 9))
    result = cli(
        "replay", "--writes", str(path), str(APPS / "notes_v1.py"), "--env", "API_KEY=x", "--json"
    )
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"] == {
        "replayed": 2,
        "match": 1,
        "differs": 1,
        "unreadable": 0,
        "skipped": 0,
    }
    first, second = data["comparisons"]
    assert first["status"] == "match" and first["diff"] is None
    assert second["status"] == "differs" and '"words": 9' in second["diff"]
    assert second["recorded"]["response"]["resource"]["properties"]["words"] == 9
    assert second["replayed"]["response"]["resource"]["properties"]["words"] == 3


def test_cli_bad_input(cli, tmp_path):
    app = str(APPS / "notes_v1.py")
    missing = cli("replay", "--writes", str(tmp_path / "nope.jsonl"), app)
    assert missing.returncode == 2 and "nope.jsonl: cannot open it" in missing.stderr
    path = tmp_path / "t.jsonl"
    path.write_bytes(record("t-1", "one two", 2))
    no_secret = cli("replay", "--writes", str(path), app)
    assert no_secret.returncode == 2
    assert "value of API_KEY masked: give it with --secret" in no_secret.stderr
    bad_only = cli(
        "replay", "--writes", str(path), app, "--only", "colour=red", "--secret", "API_KEY=x"
    )
    assert bad_only.returncode == 2 and "'colour=red' is not a task filter" in bad_only.stderr
    nothing = cli("replay", "--writes", str(path), app, "--only", "errors", "--secret", "API_KEY=x")
    assert nothing.returncode == 2
    assert "holds no task of app 'notes' that matches --only status=error" in nothing.stderr
    ok = cli("replay", "--writes", str(path), app, "--secret", "API_KEY")
    assert ok.returncode == 2 and "no environment variable API_KEY" in ok.stderr


def read_record(task_id: str, external_id: str) -> bytes:
    """A recorded read of note `external_id`, as the notes app answers it."""
    wire = task(task_id, "unused").to_wire()
    wire["task"].update(
        operation="read",
        resource={"type": "note", "external_id": external_id, "display_name": ""},
    )
    wire["task"].pop("input")
    title = external_id.replace("-", " ")
    report = TaskReport.of_resource(
        task_id,
        {  # type: ignore[arg-type]
            "type": "note",
            "external_id": external_id,
            "display_name": title,
            "properties": {"title": title, "words": len(title.split())},
        },
    )
    return encode_record(
        app_id="notes",
        version="v1",
        task=Task.from_wire(wire),
        report=report,
        started_at=0.0,
        duration=0.01,
    )


def test_tasks_that_change_data_are_replayed_only_when_asked(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(record("t-1", "one two", 2) + read_record("t-2", "one-two"))
    created, read = replay(path, build("v1"), secrets={"API_KEY": "x"})
    # The create's handler never ran: its comparison says why, and how to ask for it.
    assert created.status == "skipped" and not created.matches
    assert created.replayed is None
    assert "create note changes data" in created.skipped and "--writes" in created.skipped
    assert read.status == "match", read.diff
    both = replay(path, build("v1"), secrets={"API_KEY": "x"}, writes=True)
    assert [r.status for r in both] == ["match", "match"]


def test_cli_replays_reads_without_writes_and_exits_2_when_only_writes_are_left(cli, tmp_path):
    app = str(APPS / "notes_v1.py")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(record("t-1", "one two", 2) + read_record("t-2", "one-two"))
    result = cli("replay", str(mixed), app, "--secret", "API_KEY=x")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 replayed, 1 match, 1 skipped (they change data: replay them with --writes" in (
        result.stdout
    )
    writes_only = tmp_path / "writes.jsonl"
    writes_only.write_bytes(record("t-1", "one two", 2))
    result = cli("replay", str(writes_only), app, "--secret", "API_KEY=x")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "0 replayed, 0 match, 1 skipped" in result.stdout
