"""Every snippet of docs/testing.md is a file of docs_src/testing, and runs as copied."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "testing.md"
SNIPPETS = ROOT / "docs_src" / "testing"
INCLUDE = re.compile(
    r'^```python title="([\w.]+)"\n--8<-- "(docs_src/testing/[\w/]+\.py)"\n```$', re.M
)


def test_the_guide_includes_each_file_under_its_name() -> None:
    guide = GUIDE.read_text("utf-8")
    shown = INCLUDE.findall(guide)
    assert shown == [
        ("test_app.py", "docs_src/testing/test_app.py"),
        ("test_exercise.py", "docs_src/testing/test_exercise.py"),
        ("conftest.py", "docs_src/testing/conftest.py"),
        ("test_served.py", "docs_src/testing/test_served.py"),
    ]
    for title, path in shown:
        assert Path(path).name == title
    # No other code block hides an untested snippet.
    assert guide.count("```python") == len(shown)


def test_the_tests_run_beside_the_app_of_the_lifespan_guide() -> None:
    # The guide says: save the lifespan page's app.py, put these files beside it.
    lifespan = (ROOT / "docs" / "lifespan.md").read_text("utf-8")
    assert '```python title="app.py"\n--8<-- "docs_src/lifespan/app.py"' in lifespan
    app = (ROOT / "docs_src" / "lifespan" / "app.py").read_text("utf-8")
    assert (SNIPPETS / "app.py").read_text("utf-8") == app


@pytest.mark.parametrize(
    "plugins",
    [["-p", "no:asyncio"], ["-o", "asyncio_default_fixture_loop_scope=function"]],
    ids=["without-pytest-asyncio", "beside-pytest-asyncio"],
)
def test_the_snippets_pass_with_pytest_as_copied(plugins: list[str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SNIPPETS),
            "-c",
            str(SNIPPETS / "pytest.ini"),
            "--rootdir",
            str(SNIPPETS),
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "-q",
            *plugins,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
