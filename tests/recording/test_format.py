"""The record format: one line per task, secrets masked, read back line by line."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tempest_sdk._recordings import (
    FORMAT,
    RecordedTask,
    RecordFilter,
    RecordingError,
    encode_record,
    read_records,
    with_values,
)
from tempest_sdk._secrets import MASK, TaskSecrets, enter_task, leave_task
from tempest_sdk.models import Task, TaskReport, TaskSubject

SECRET = 'sk-live/7Hq+Zx&y="q"\\é'


def make_task(task_id: str = "t-1", *, title: str = "hello world", otp: str = "") -> Task:
    return Task.from_wire(
        {
            "task_id": task_id,
            "task": {
                "request_type": "execute_resource_operation",
                "operation": "create",
                "resource": {"type": "note", "external_id": "", "display_name": ""},
                "input": {"title": title, "otp": otp},
                "environment_variables": [
                    {"name": "REGION", "value": "eu-west-1", "type": "variable"},
                    {"name": "API_KEY", "value": SECRET, "type": "secret"},
                    {"name": "TLS_KEY", "value": "", "type": "private_key"},
                ],
                "future_field": {"kept": True},
            },
            "metadata": {
                "owners": [],
                "author": {"email": "a@example.com", "name": "A", "type": "user"},
                "project_id": "p1",
                "project_name": "P",
            },
        }
    )


def forms_of(secret: str) -> list[bytes]:
    once = json.dumps(secret)[1:-1]
    return [
        secret.encode(),
        quote(secret).encode(),
        quote(secret, safe="").encode(),
        quote_plus(secret).encode(),
        once.encode(),
        json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
        json.dumps(once)[1:-1].encode(),
    ]


def test_a_record_is_one_line_with_the_task_the_report_and_timings():
    task = make_task()
    report = TaskReport.error("t-1", "it failed")
    line = encode_record(
        app_id="notes",
        version="v1",
        task=task,
        report=report,
        started_at=1_780_000_000.25,
        duration=0.0123456789,
        waited=0.5,
    )
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    data = json.loads(line)
    assert data["format"] == FORMAT
    assert (data["app_id"], data["version"], data["task_id"]) == ("notes", "v1", "t-1")
    assert (data["kind"], data["resource_type"], data["name"]) == ("operation", "note", "create")
    assert data["status"] == "error"
    assert data["started_at"] == "2026-05-28T20:26:40.250000Z"
    assert data["duration"] == 0.012346 and data["waited"] == 0.5
    assert data["report"] == {
        "task_id": "t-1",
        "status": "error",
        "message": "it failed",
        "response": None,
    }
    # The task as received: unknown fields kept, plain variables as they were.
    assert data["task"]["task"]["future_field"] == {"kept": True}
    variables = {v["name"]: v for v in data["task"]["task"]["environment_variables"]}
    assert variables["REGION"]["value"] == "eu-west-1"
    # Sensitive variables: name and type kept, value masked (an empty one too).
    assert variables["API_KEY"] == {"name": "API_KEY", "value": MASK, "type": "secret"}
    assert variables["TLS_KEY"]["value"] == MASK


def test_every_secret_of_the_task_is_masked_in_every_form_anywhere_in_the_line():
    # The secret reached the input, the report's message and a ctx.mask'd value too.
    task = make_task(title=f"t {SECRET} {quote(SECRET)}", otp="otp-123456")
    secrets = TaskSecrets(task.task)
    secrets.add("otp-123456")
    report = TaskReport.error("t-1", f"boom {json.dumps(SECRET)} otp-123456")
    line = encode_record(
        app_id="notes",
        version="v1",
        task=task,
        report=report,
        started_at=0.0,
        duration=0.1,
        secrets=secrets.values(),
    )
    for form in [*forms_of(SECRET), b"otp-123456"]:
        assert form not in line, form
    data = json.loads(line)  # still one valid record
    assert data["status"] == "error" and data["format"] == FORMAT
    assert MASK in data["task"]["task"]["input"]["title"]


def test_the_maskers_the_runner_passes_mask_as_the_values_do():
    """The runner hands over the maskers its task holds (`TaskSecrets.maskers()`, the
    process's included), not the values: the same line, byte for byte."""
    task = make_task(title=f"t {SECRET} {quote(SECRET)}", otp="otp-123456")
    secrets = TaskSecrets(task.task)
    secrets.add("otp-123456")
    common = {"app_id": "notes", "version": "v1", "started_at": 0.0, "duration": 0.1}
    for report in (
        TaskReport.error("t-1", f"boom {json.dumps(SECRET)} otp-123456"),
        TaskReport.error("t-1", "no secret here"),
    ):
        by_values = encode_record(task=task, report=report, secrets=secrets.values(), **common)
        by_maskers = encode_record(task=task, report=report, maskers=secrets.maskers(), **common)
        assert by_maskers == by_values
        assert SECRET.encode() not in by_maskers and b"otp-123456" not in by_maskers
    # Without either: the task's own variables and the process's, now.
    plain = encode_record(task=task, report=TaskReport.error("t-1", SECRET), **common)
    assert SECRET.encode() not in plain


def test_values_registered_by_dispatch_reach_the_runner_holder_of_the_same_task():
    """ctx.mask and secret inputs land in dispatch's own holder; the runner's holder of the
    same task (what the recorder masks with) learns them too."""
    task = make_task()
    outer = TaskSecrets(task.task)
    token = enter_task(outer)
    try:
        inner = TaskSecrets(task.task)
        inner.add("registered-by-handler")
    finally:
        leave_task(token)
    assert outer.mask("x registered-by-handler y") == f"x {MASK} y"


def write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def a_line(task_id: str = "t-1", **changes: object) -> bytes:
    line = encode_record(
        app_id="notes",
        version="v1",
        task=make_task(task_id),
        report=TaskReport.error(task_id, "x"),
        started_at=0.0,
        duration=0.0,
    )
    if not changes:
        return line
    data = json.loads(line)
    data.update(changes)
    return json.dumps(data).encode() + b"\n"


def test_records_are_read_back_in_order(tmp_path):
    path = write(tmp_path / "r.jsonl", a_line("t-1"), b"\n", a_line("t-2"))
    records = list(read_records(path))
    assert [r.line for r in records] == [1, 3]
    assert all(isinstance(r, RecordedTask) for r in records)
    first = records[0]
    assert isinstance(first, RecordedTask)
    assert first.task.task_id == "t-1" and first.report.message == "x"
    assert first.masked_variables == ("API_KEY", "TLS_KEY")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json\n", "line 2: not a JSON record: Expecting property name"),
        (b"[1, 2]\n", "line 2: not a record: a JSON list"),
        (b'{"app_id": "notes"}\n', "line 2: not a tempest-sdk record: it has no 'format'"),
        (b'{"format": 99}\n', "line 2: written in record format 99 by a newer tempest-sdk"),
        (b'{"format": 1, "app_id": "notes"}\n', "lacks 'version', 'task', 'report'"),
    ],
)
def test_a_bad_line_is_an_error_naming_the_line(tmp_path, content, message):
    path = write(tmp_path / "r.jsonl", a_line("t-1"), content, a_line("t-3"))
    records = list(read_records(path))
    assert isinstance(records[0], RecordedTask) and isinstance(records[2], RecordedTask)
    error = records[1]
    assert isinstance(error, RecordingError)
    assert error.line == 2
    assert message in str(error)
    assert str(path) in str(error)


def test_a_bad_task_or_report_says_which_field(tmp_path):
    path = write(
        tmp_path / "r.jsonl",
        a_line("t-1", task={"task_id": "t-1"}),
        a_line("t-2", report={"task_id": "t-2", "status": "maybe"}),
    )
    first, second = read_records(path)
    assert isinstance(first, RecordingError) and "its task is not a valid task" in str(first)
    assert "task: Field required" in str(first)
    assert isinstance(second, RecordingError) and "status" in str(second)


def test_a_truncated_last_line_says_so(tmp_path):
    whole = a_line("t-2")
    path = write(tmp_path / "r.jsonl", a_line("t-1"), whole[: len(whole) // 2])
    first, second = read_records(path)
    assert isinstance(first, RecordedTask)
    assert isinstance(second, RecordingError)
    assert "line 2: truncated: the file ends inside this record" in str(second)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RecordingError, match=r"nope\.jsonl: cannot open it"):
        list(read_records(tmp_path / "nope.jsonl"))


def test_masked_values_are_given_back_by_name():
    task = make_task()
    filled = with_values(task, {"API_KEY": "test-key", "OTHER": "unused"})
    variables = {v.name: v.reveal() for v in filled.task.environment_variables or []}
    assert variables == {"REGION": "eu-west-1", "API_KEY": "test-key", "TLS_KEY": ""}
    assert with_values(task, {"OTHER": "x"}) is task


OP = TaskSubject("operation", "note", "create")
ACTION = TaskSubject("action", "note", "shout")
LIST = TaskSubject("list", "note", "list")


def test_filters_select_by_status_type_operation_action_kind_and_task():
    assert RecordFilter.parse(None).matches(OP, "ok")
    errors = RecordFilter.parse("errors")
    assert errors.matches(OP, "error") and not errors.matches(OP, "ok")
    both = RecordFilter.parse("errors,type=note")
    assert both.matches(ACTION, "error")
    assert not both.matches(TaskSubject("operation", "other", "create"), "error")
    ops = RecordFilter.parse(["operation=create|list"])
    assert ops.matches(OP, "ok") and ops.matches(LIST, "ok") and not ops.matches(ACTION, "ok")
    assert RecordFilter.parse("action=shout").matches(ACTION, "ok")
    assert not RecordFilter.parse("action=create").matches(OP, "ok")
    assert RecordFilter.parse("kind=list").matches(LIST, "ok")
    assert RecordFilter.parse("task=t-9").matches(OP, "ok", "t-9")
    assert not RecordFilter.parse("task=t-9").matches(OP, "ok", "t-1")
    assert str(RecordFilter.parse("type=b, errors ,type=a")) == "status=error,type=a|b"


@pytest.mark.parametrize("spec", ["colour=red", "status=maybe", "kind=job", "type="])
def test_a_bad_filter_says_what_is_accepted(spec):
    with pytest.raises(ValueError, match=r"status|kind|not a task filter"):
        RecordFilter.parse(spec)


def test_the_secrets_are_those_taken_when_the_task_ended():
    """An app's settings leave the process when it stops, maybe before its last records
    are written: the values masked are those given, not the process's at write time."""
    from tempest_sdk._secrets import register_process_secrets, unregister_process_secrets

    register_process_secrets(["settings-password-1"])
    try:
        values = TaskSecrets(make_task().task).values()
    finally:
        unregister_process_secrets(["settings-password-1"])
    task = make_task(title="pw settings-password-1")
    line = encode_record(
        app_id="notes",
        version="v1",
        task=task,
        report=TaskReport.error("t-1", "x"),
        started_at=0.0,
        duration=0.0,
        secrets=values,
    )
    assert b"settings-password-1" not in line
