"""The package's rooms import only downward: no import runs back up, no circle
(docs/architecture.md; `python tools/import_graph.py` prints the graph)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_runs_back_up_and_no_file_is_in_a_circle() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "import_graph.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    assert "imports running back up: 0" in lines, done.stdout
    assert "circles among files: 0" in lines, done.stdout
