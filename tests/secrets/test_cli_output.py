"""CLI output (`invoke`, `health`, the `serve` table, `--json`) passes the masking owner:
every line, JSON document, table cell and status line."""

from __future__ import annotations

import io
import json

import pytest

from tempest_sdk._cli._term import Out, Progress, _visible
from tempest_sdk._secrets import (
    MASK,
    TaskSecrets,
    enter_task,
    leave_task,
    register_process_secrets,
    unregister_process_secrets,
)
from tempest_sdk.testing import sample_task

from .conftest import SECRET, SETTINGS_SECRET


@pytest.fixture
def known() -> object:
    """A serving app's setting and a task in flight, as while a command runs."""
    register_process_secrets([SETTINGS_SECRET])
    entered = enter_task(TaskSecrets(sample_task("thing", "create", secrets={"K": SECRET}).task))
    try:
        yield
    finally:
        leave_task(entered)
        unregister_process_secrets([SETTINGS_SECRET])


def test_lines_json_and_tables_are_masked(known: object) -> None:
    stream = io.StringIO()
    out = Out(stream, color=True)
    out.line(f"Serving with {SECRET}")
    out.json({"message": f"a {SETTINGS_SECRET}", SECRET: [SECRET]})
    out.table(
        ["TYPE", "STATUS", "MESSAGE"],
        [["thing", out.style("healthy", "green"), f"token {SETTINGS_SECRET} ok"]],
    )
    text = stream.getvalue()
    leaked = SECRET in text or SETTINGS_SECRET in text
    assert not leaked, "a secret reached the output"
    assert f"Serving with {MASK}\n" in text
    document = text[text.index("{") : text.rindex("}") + 1]
    assert json.loads(document) == {"message": f"a {MASK}", MASK: [MASK]}
    # Widths are those of the masked cells: the columns stay aligned.
    header, row = (_visible(line) for line in text.splitlines()[-2:])
    assert row.index(f"token {MASK} ok") == header.index("MESSAGE")
    assert len(header) == len(row)


def test_a_commands_own_secrets_are_masked_after_its_task_ended() -> None:
    """`invoke` prints the report once its task (and its secrets) left the process."""
    stream = io.StringIO()
    Out(stream, secrets=[SECRET]).json({"message": f"refused {SECRET}"})
    assert json.loads(stream.getvalue()) == {"message": f"refused {MASK}"}


def test_the_status_line_is_masked(known: object) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress(stream, delay=0)
    progress.show(f"running create {SECRET}")
    leaked = SECRET in stream.getvalue()
    assert not leaked, "the secret reached the status line"
    assert MASK in stream.getvalue()


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_the_serve_table_masks_its_steps_secrets_before_cutting_messages(as_json: bool) -> None:
    """`serve --emulator` prints its table once the steps' tasks (and secrets) ended;
    a long message is cut to 60 characters, which must not cut a secret in two."""
    from tempest_sdk._cli._serve import print_results
    from tempest_sdk.testing import Step, StepResult

    step = Step("app", "v1", "thing", "create", secrets={"KEY": SECRET})
    message = "x" * 40 + f" key {SECRET}"  # cut at 60: inside the secret
    stream = io.StringIO()
    print_results(Out(stream), [StepResult(step, "error", 0.1, message)], json_output=as_json)
    text = stream.getvalue()
    leaked = SECRET[:6] in text
    assert not leaked, "part of the secret reached the table"
    assert "x" * 40 + f" key {MASK}" in text
