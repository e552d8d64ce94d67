"""The `serve --emulator` table: whole messages where the output is kept (issue 25, point 8)."""

from __future__ import annotations

import io

from tempest_sdk._cli._serve import print_results
from tempest_sdk._cli._term import Out
from tempest_sdk.testing import Step, StepResult

MESSAGE = (
    "create of 'flag' failed: conflict: cannot create flag 'checkout-v2': "
    "flag 'checkout-v2' exists (Flagpole answered 409 at http://127.0.0.1:8080/v1/flags)"
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def table(stream: io.StringIO) -> str:
    step = Step("feature-flags", "v1", "flag", "create")
    print_results(
        Out(stream, color=False), [StepResult(step, "error", 0.01, MESSAGE)], json_output=False
    )
    return stream.getvalue()


def test_off_a_terminal_the_table_keeps_every_message_whole() -> None:
    assert len(MESSAGE) > 100
    (row,) = [line for line in table(io.StringIO()).splitlines() if "flag.create" in line]
    assert row.rstrip().endswith(MESSAGE)


def test_on_a_terminal_a_long_message_is_cut_to_a_line() -> None:
    (row,) = [line for line in table(Terminal()).splitlines() if "flag.create" in line]
    assert MESSAGE not in row
    assert row.rstrip().endswith("…")
    assert MESSAGE[:59] in row
