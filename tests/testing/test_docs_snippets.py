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
BLOCK = re.compile(r"<!-- (docs_src/[\w/]+\.py) -->\n```python\n(.*?)```\n", re.S)


def test_the_guide_shows_each_file_verbatim() -> None:
    blocks = BLOCK.findall(GUIDE.read_text("utf-8"))
    assert [path for path, _ in blocks] == [
        "docs_src/testing/test_invoke.py",
        "docs_src/testing/test_exercise.py",
        "docs_src/testing/conftest.py",
        "docs_src/testing/test_served.py",
    ]
    for path, code in blocks:
        assert (ROOT / path).read_text("utf-8") == code, f"{path} differs from the guide"
    # No other code block hides an untested snippet.
    assert GUIDE.read_text("utf-8").count("```python") == len(blocks)


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
    assert "3 passed" in result.stdout
