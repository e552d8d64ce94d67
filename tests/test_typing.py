"""The decorators' types: mypy and pyright accept the right handlers, reject the wrong ones.

`tests/typing/right_handlers.py` must type-check clean; `tests/typing/wrong_handlers.py`
must have an error on each line marked `# expect-error` and nowhere else, under both
checkers (`mypy --strict`, and pyright strict through the files' `# pyright: strict`).
The runtime must agree: it registers every right handler and refuses every wrong one.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import runpy
import subprocess
import sys
import tokenize
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tempest_sdk as tempest

ROOT = Path(__file__).parent.parent
TYPING = Path(__file__).parent / "typing"
RIGHT = TYPING / "right_handlers.py"
WRONG = TYPING / "wrong_handlers.py"
MARK = "# expect-error"
FEATURE_FLAGS = ROOT / "examples" / "feature-flags"
TIMEOUT = 120


def _expected_lines(path: Path) -> set[int]:
    with tokenize.open(path) as file:
        return {
            token.start[0]
            for token in tokenize.generate_tokens(file.readline)
            if token.type == tokenize.COMMENT and token.string == MARK
        }


def _start(command: list[str], cwd: Path = ROOT) -> subprocess.Popen[str]:
    # PYRIGHT_PYTHON_IGNORE_WARNINGS: no "a newer version exists" look-up on PyPI.
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1", "NO_COLOR": "1"}
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"{process.args} ran over {TIMEOUT} s:\n{out}\n{err}")
    return process.returncode, out, err


def _pyright() -> Path:
    pyright = Path(sys.executable).parent / ("pyright.exe" if os.name == "nt" else "pyright")
    if not pyright.exists():
        pytest.fail(f"pyright is not installed next to {sys.executable}: pip install -e '.[tests]'")
    return pyright


@pytest.fixture(scope="module")
def errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, set[int]]]:
    """The lines with an error, per checker and per file name, both checkers run at once."""
    pyright = _pyright()
    files = [str(RIGHT), str(WRONG)]
    mypy_run = _start(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--no-color-output",
            "--show-error-codes",
            "--cache-dir",
            str(tmp_path_factory.mktemp("mypy-cache")),
            *files,
        ]
    )
    pyright_run = _start([str(pyright), "--outputjson", "--pythonpath", sys.executable, *files])

    code, out, err = _finish(mypy_run)
    # 0: no error, 1: errors found; anything else is mypy failing to run.
    assert code in (0, 1), f"mypy could not run (exit {code}):\n{out}\n{err}"
    mypy: dict[str, set[int]] = {Path(f).name: set() for f in files}
    messages = {"mypy": out}
    for line in out.splitlines():
        match = re.match(r"(?P<file>.+?):(?P<line>\d+): error: ", line)
        if match:
            mypy.setdefault(Path(match["file"]).name, set()).add(int(match["line"]))

    code, out, err = _finish(pyright_run)
    # pyright-python downloads node's pyright on first use: without node or network
    # it fails here, and so does this test (it never skips).
    assert code in (0, 1), f"pyright could not run (exit {code}):\n{out}\n{err}"
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"pyright did not report JSON (exit {code}):\n{out}\n{err}")
    assert report["summary"]["filesAnalyzed"] == len(files), report["summary"]
    pyright_errors: dict[str, set[int]] = {Path(f).name: set() for f in files}
    messages["pyright"] = "\n".join(d["message"] for d in report["generalDiagnostics"])
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            lines = pyright_errors.setdefault(Path(diagnostic["file"]).name, set())
            lines.add(diagnostic["range"]["start"]["line"] + 1)  # 0-based in the JSON
    return {"mypy": mypy, "pyright": pyright_errors, "messages": messages}  # type: ignore[dict-item]


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_a_wrong_handlers_error_names_the_rule(errors: dict[str, Any], checker: str) -> None:
    """The decorators' type variables are named as their rules, which both checkers quote."""
    said = errors["messages"][checker]
    for rule in (
        "HandlerMustReturnResource",
        "DeleteMustReturnResourceOrNone",
        "ListMustReturnPage",
        "HealthCheckMustReturnHealth",
    ):
        assert rule in said, f"{checker} never quotes {rule}"


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_right_handlers_type_check(errors: dict[str, dict[str, set[int]]], checker: str) -> None:
    assert errors[checker][RIGHT.name] == set()


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_each_wrong_handler_is_rejected(
    errors: dict[str, dict[str, set[int]]], checker: str
) -> None:
    expected = _expected_lines(WRONG)
    assert len(expected) >= 15
    found = errors[checker][WRONG.name]
    assert sorted(expected - found) == [], f"{checker} accepts these wrong handlers"
    assert sorted(found - expected) == [], f"{checker} reports errors on unmarked lines"


def test_the_runtime_registers_every_right_handler() -> None:
    names = runpy.run_path(str(RIGHT), run_name="right_handlers")
    apps: list[tempest.App] = [names["app"], names["plain"]]
    registered = {
        name: (rt.operations, rt.has_health_check, rt.actions)
        for app in apps
        for name, rt in app.resource_types.items()
    }
    assert registered == {
        "note": (
            ("create", "read", "update", "delete", "list"),
            True,
            ("export", "stats", "forget"),
        ),
        "sticky": (
            ("create", "read", "update", "delete", "list"),
            True,
            ("count", "count-typed", "share"),
        ),
        "memo": (("create", "delete", "list"), True, ("archive",)),
    }


def _wrong_cases() -> dict[str, Callable[[tempest.ResourceType], None]]:
    names = runpy.run_path(str(WRONG), run_name="wrong_handlers")
    return {
        name: case
        for name, case in names.items()
        if inspect.isfunction(case) and case.__module__ == "wrong_handlers"
    }


def test_every_wrong_case_is_marked() -> None:
    assert len(_wrong_cases()) == len(_expected_lines(WRONG))


@pytest.mark.parametrize(("name", "case"), sorted(_wrong_cases().items()))
def test_the_runtime_refuses_every_wrong_handler(
    name: str, case: Callable[[tempest.ResourceType], None]
) -> None:
    app = tempest.App("typing-wrong", "v1")
    resource = app.resource(
        "note", properties={"type": "object", "properties": {"title": {"type": "string"}}}
    )
    with pytest.raises(tempest.DefinitionError, match="returns "):
        case(resource)


def test_the_feature_flags_example_passes_both_checkers_strictly(tmp_path: Path) -> None:
    """The new user's app, as the docs teach it: `mypy --strict` without the pydantic
    plugin (`--config-file=` leaves this project's configuration out), and pyright
    strict (each file says `# pyright: strict`); typed overrides need no ignore."""
    files = sorted(p.relative_to(FEATURE_FLAGS).as_posix() for p in FEATURE_FLAGS.rglob("*.py"))
    assert len(files) >= 8
    for name in files:
        text = (FEATURE_FLAGS / name).read_text("utf-8")
        assert "# pyright: strict" in text, f"{name} is not checked strictly by pyright"
        assert "type: ignore" not in text, f"{name} silences the type checker"
    mypy_run = _start(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file=",
            "--no-color-output",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            *files,
        ],
        cwd=FEATURE_FLAGS,
    )
    pyright_run = _start(
        [str(_pyright()), "--outputjson", "--pythonpath", sys.executable, *files],
        cwd=FEATURE_FLAGS,
    )
    code, out, err = _finish(mypy_run)
    assert code == 0, f"mypy --strict (exit {code}):\n{out}\n{err}"
    code, out, err = _finish(pyright_run)
    assert code in (0, 1), f"pyright could not run (exit {code}):\n{out}\n{err}"
    report = json.loads(out)
    assert report["summary"]["filesAnalyzed"] == len(files), report["summary"]
    problems = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] in ("error", "warning")
    ]
    assert problems == []
