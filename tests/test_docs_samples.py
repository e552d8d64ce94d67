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
from pathlib import Path

import pytest

from tempest_sdk.models import Resource

from ._typecheck import basedpyright, mypy_command, problems, run

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


def _checked_as_package() -> list[Path]:
    in_projects = {path for files in PROJECTS.values() for path in files}
    return sorted(path for path in DOCS_SRC.rglob("*.py") if path not in in_projects)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("typecheck")


def test_every_sample_passes_mypy_strict_without_plugins(folder: Path) -> None:
    mypy = mypy_command(folder)
    runs = [run([*mypy, *map(str, _checked_as_package())], ROOT)]
    for project, files in PROJECTS.items():
        # Module names from the project's directory, as its reader's mypy sees them.
        names = [str(path.relative_to(project)) for path in files]
        runs.append(run([*mypy, "--explicit-package-bases", *names], project))
    failures = [done.stdout + done.stderr for done in runs if done.returncode != 0]
    assert not failures, "\n".join(failures)


def test_every_sample_passes_pyright_strict(folder: Path) -> None:
    samples = sorted(DOCS_SRC.rglob("*.py"))
    report = basedpyright(samples, folder, roots=[*PROJECTS, ROOT], cwd=ROOT)
    errors = problems(report, ROOT)
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
