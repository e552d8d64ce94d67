"""Type-check files as a user's project does: `mypy --strict` and pyright strict, no plugin.

Shared by the tests of the docs' samples, the examples and the decorators' types.
Each checker runs with a configuration written for the test (none of pyproject.toml's,
so no pydantic mypy plugin). pyright runs through basedpyright, whose wheel bundles
pyright and node: nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 300


def run(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a checker without colours, failing the test if it runs over `TIMEOUT`."""
    env = {**os.environ, "NO_COLOR": "1", "MYPY_FORCE_COLOR": "0"}
    try:
        return subprocess.run(
            list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command[:4]} ran over {TIMEOUT} s:\n{exc.stdout}\n{exc.stderr}")


def mypy_command(folder: Path) -> list[str]:
    """`mypy --strict` with a config of its own in `folder` (no plugin) and its cache there."""
    config = folder / "mypy.ini"
    if not config.exists():
        config.write_text("[mypy]\nstrict = True\n", "utf-8")
    return [
        sys.executable, "-m", "mypy",
        "--config-file", str(config),
        "--cache-dir", str(folder / "mypy-cache"),
        "--no-error-summary",
        "--show-error-codes",
    ]  # fmt: skip


def basedpyright(
    files: Iterable[Path], folder: Path, roots: Iterable[Path] = (), cwd: Path | None = None
) -> dict[str, Any]:
    """pyright strict on `files`; returns its JSON report.

    `roots` are execution environments (each a reader's project folder, whose modules
    import each other by top-level name); the config is written in `folder`.
    """
    executable = Path(sys.executable).parent / (
        "basedpyright.exe" if os.name == "nt" else "basedpyright"
    )
    if not executable.exists():
        pytest.fail(
            f"basedpyright is not installed next to {sys.executable}: pip install -e '.[tests]'"
        )
    settings = {
        "typeCheckingMode": "strict",
        "pythonVersion": "3.11",
        "executionEnvironments": [{"root": str(root)} for root in roots],
    }
    config = folder / "pyrightconfig.json"
    config.write_text(json.dumps(settings), "utf-8")
    paths = [str(path) for path in files]
    result = run(
        [
            str(executable),
            "--project", str(config),
            "--pythonpath", sys.executable,
            "--outputjson",
            *paths,
        ],
        cwd or folder,
    )  # fmt: skip
    # 0: no error, 1: errors found; anything else is pyright failing to run.
    assert result.returncode in (0, 1), (
        f"basedpyright could not run (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] >= len(paths), report["summary"]
    return report


def problems(
    report: dict[str, Any], relative_to: Path, severities: Sequence[str] = ("error",)
) -> list[str]:
    """The report's diagnostics of these severities, one `file:line: message (rule)` each."""
    return [
        f"{Path(d['file']).relative_to(relative_to)}:{d['range']['start']['line'] + 1}: "
        f"{d['message']} ({d.get('rule', '')})"
        for d in report["generalDiagnostics"]
        if d["severity"] in severities
    ]
