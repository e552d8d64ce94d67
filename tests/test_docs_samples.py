"""Every docs sample type-checks as a user's project checks it: strict, and with no plugin.

A user copies a sample into a project of their own, whose type checker knows nothing
of this repository's configuration: `mypy --strict` without pydantic's mypy plugin,
and pyright in strict mode. Both run here on every file of docs_src/ with a
configuration written for the test (none of pyproject.toml's). pyright runs through
basedpyright, whose wheel bundles pyright and node, so nothing is downloaded.

Samples shown as a project of their own (a directory whose tests import its app by
a top-level name, as pytest's rootdir conftest makes them) are checked from that
directory, as their reader would run them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tempest_sdk.models import Resource

ROOT = Path(__file__).resolve().parents[1]
DOCS_SRC = ROOT / "docs_src"
# Files of docs_src that import each other by top-level names, by their directory:
# each directory with a pytest.ini (a reader's project of tests beside their app),
# and the emulator guide's app with its end-to-end test.
PROJECTS = {
    **{
        ini.parent: sorted(ini.parent.rglob("*.py")) for ini in sorted(DOCS_SRC.rglob("pytest.ini"))
    },
    DOCS_SRC / "observability" / "greetings": sorted(
        (DOCS_SRC / "observability" / "greetings").glob("*.py")
    ),
    DOCS_SRC / "emulator": [
        DOCS_SRC / "emulator" / "myapp.py",
        DOCS_SRC / "emulator" / "test_end_to_end.py",
    ],
}
TIMEOUT = 300


def _checked_as_package() -> list[Path]:
    in_projects = {path for files in PROJECTS.values() for path in files}
    return sorted(path for path in DOCS_SRC.rglob("*.py") if path not in in_projects)


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "MYPY_FORCE_COLOR": "0"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("typecheck")
    (folder / "mypy.ini").write_text("[mypy]\nstrict = True\n", "utf-8")
    return folder


def test_every_sample_passes_mypy_strict_without_plugins(config: Path) -> None:
    mypy = [
        sys.executable, "-m", "mypy",
        "--config-file", str(config / "mypy.ini"),
        "--cache-dir", str(config / "mypy-cache"),
        "--no-error-summary",
    ]  # fmt: skip
    runs = [_run([*mypy, *map(str, _checked_as_package())], ROOT)]
    for project, files in PROJECTS.items():
        # Module names from the project's directory, as its reader's mypy sees them.
        names = [str(path.relative_to(project)) for path in files]
        runs.append(_run([*mypy, "--explicit-package-bases", *names], project))
    failures = [run.stdout + run.stderr for run in runs if run.returncode != 0]
    assert not failures, "\n".join(failures)


def test_every_sample_passes_pyright_strict(config: Path) -> None:
    basedpyright = Path(sys.executable).parent / (
        "basedpyright.exe" if os.name == "nt" else "basedpyright"
    )
    if not basedpyright.exists():
        pytest.fail(
            f"basedpyright is not installed next to {sys.executable}: pip install -e '.[tests]'"
        )
    settings = {
        "typeCheckingMode": "strict",
        "pythonVersion": "3.11",
        "executionEnvironments": [
            *({"root": str(project)} for project in PROJECTS),
            {"root": str(ROOT)},
        ],
    }
    (config / "pyrightconfig.json").write_text(json.dumps(settings), "utf-8")
    run = _run(
        [
            str(basedpyright),
            "--project", str(config / "pyrightconfig.json"),
            "--pythonpath", sys.executable,
            "--outputjson",
            *map(str, sorted(DOCS_SRC.rglob("*.py"))),
        ],
        ROOT,
    )  # fmt: skip
    assert run.returncode in (0, 1), f"basedpyright could not run:\n{run.stdout}\n{run.stderr}"
    report = json.loads(run.stdout)
    errors = [
        f"{Path(d['file']).relative_to(ROOT)}:{d['range']['start']['line'] + 1}: "
        f"{d['message']} ({d.get('rule', '')})"
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    assert report["summary"]["filesAnalyzed"] >= len(list(DOCS_SRC.rglob("*.py")))
    assert not errors, "\n".join(errors)


def test_the_resource_constructor_type_matches_its_fields() -> None:
    # models/_resources.py spells the constructor out for type checkers without the
    # pydantic plugin: it must name every field, in order, and nothing else.
    tree = ast.parse((ROOT / "tempest_sdk" / "models" / "_resources.py").read_text("utf-8"))
    (init,) = [
        node
        for cls in tree.body
        if isinstance(cls, ast.ClassDef) and cls.name == "Resource"
        for block in cls.body
        if isinstance(block, ast.If)
        for node in block.body
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    ]
    assert [arg.arg for arg in init.args.kwonlyargs] == list(Resource.model_fields)
