"""The decorators' types: mypy and pyright accept the right handlers, reject the wrong ones.

`tests/typing/right_handlers.py` must type-check clean; `tests/typing/wrong_handlers.py`
must have an error on each line marked `# expect-error` and nowhere else, under both
checkers (`mypy --strict`, and pyright strict through basedpyright, which runs offline).
Every example passes both, strict and without the pydantic plugin.
The runtime must agree: it registers every right handler and refuses every wrong one.
"""

from __future__ import annotations

import ast
import inspect
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

from ._typecheck import basedpyright, mypy_command, problems, run

ROOT = Path(__file__).parent.parent
TYPING = Path(__file__).parent / "typing"
RIGHT = TYPING / "right_handlers.py"
WRONG = TYPING / "wrong_handlers.py"
MARK = "# expect-error"
FEATURE_FLAGS = ROOT / "examples" / "feature-flags"
EXAMPLES = sorted(path for path in (ROOT / "examples").iterdir() if path.is_dir())
TIMEOUT = 120


def _expected_lines(path: Path) -> set[int]:
    with tokenize.open(path) as file:
        return {
            token.start[0]
            for token in tokenize.generate_tokens(file.readline)
            if token.type == tokenize.COMMENT and token.string == MARK
        }


def _start(command: list[str], cwd: Path = ROOT) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
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


@pytest.fixture(scope="module")
def errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, set[int]]]:
    """The lines with an error, per checker and per file name, both checkers run at once."""
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

    code, out, err = _finish(mypy_run)
    # 0: no error, 1: errors found; anything else is mypy failing to run.
    assert code in (0, 1), f"mypy could not run (exit {code}):\n{out}\n{err}"
    mypy: dict[str, set[int]] = {Path(f).name: set() for f in files}
    messages = {"mypy": out}
    for line in out.splitlines():
        match = re.match(r"(?P<file>.+?):(?P<line>\d+): error: ", line)
        if match:
            mypy.setdefault(Path(match["file"]).name, set()).add(int(match["line"]))

    folder = tmp_path_factory.mktemp("pyright")
    report = basedpyright([RIGHT, WRONG], folder, cwd=ROOT)
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


def test_the_feature_flags_files_ask_pyright_for_strict() -> None:
    """Each file says `# pyright: strict`, so a user's pyright checks it strictly too."""
    files = sorted(FEATURE_FLAGS.rglob("*.py"))
    assert len(files) >= 8
    for path in files:
        assert "# pyright: strict" in path.read_text("utf-8"), f"{path.name} is not strict"


def _top_level_siblings(example: Path, files: list[Path]) -> list[Path]:
    """The modules beside a package example's app that its files import by top-level name.

    `tempest-sdk serve` and the example's tests put the folder on `sys.path`, so such a
    module is `temps_client`, never `temps.temps_client`: mypy checks it on its own, as
    a file listed with the package's would be the same file under two names.
    """
    if not (example / "__init__.py").exists():
        return []
    imported: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    return [path for path in files if path.parent == example and path.stem in imported]


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_example_passes_both_checkers_strictly(example: Path, tmp_path: Path) -> None:
    """Every file of the example (app, services, tests), as a user's project checks it:
    `mypy --strict` without the pydantic plugin, and pyright strict; nothing silenced."""
    files = sorted(example.rglob("*.py"))
    assert files
    for path in files:
        assert "type: ignore" not in path.read_text("utf-8"), f"{path} silences mypy"
    siblings = _top_level_siblings(example, files)
    mypy = mypy_command(tmp_path)
    runs = [
        run([*mypy, *(str(p.relative_to(example)) for p in group)], example)
        for group in ([p for p in files if p not in siblings], siblings)
        if group
    ]
    failures = [done.stdout + done.stderr for done in runs if done.returncode != 0]
    assert not failures, "\n".join(failures)
    report = basedpyright(files, tmp_path, roots=[example], cwd=example)
    found = problems(report, example, severities=("error", "warning"))
    assert not found, "\n".join(found)
