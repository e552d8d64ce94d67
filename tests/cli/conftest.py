from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).parent / "apps"
HELLOWORLD = ROOT / "examples" / "helloworld" / "app.py"


class CLI:
    """Runs `python -m tempest_sdk` in a subprocess, as a user would."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 120.0,
        env: dict[str, str] | None = None,
    ):
        # None of the developer's own Tempest settings; `env` adds the test's.
        base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
        env = {**base, "NO_COLOR": "1", **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "tempest_sdk", *args],
            cwd=self.cwd,
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)
