"""The samples of docs/settings-and-secrets.md run, and do what the page says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio

from tempest_sdk._secrets import MASK, MIN_INSIDE
from tempest_sdk.testing import ainvoke

from .conftest import SECRET, Capture

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "settings-and-secrets.md").read_text(encoding="utf-8")

EMBEDDED = f"""
import logging, threading
from docs_src.secrets.logging_setup import configure_logging
from tempest_sdk._secrets import register_process_secrets

configure_logging()
register_process_secrets(["{SECRET}"])
thread = threading.Thread(
    target=logging.getLogger("mine").warning, args=("key %s", "{SECRET}")
)
thread.start()
thread.join()
"""


def test_the_logging_setup_sample_masks_every_logger() -> None:
    assert '--8<-- "docs_src/secrets/logging_setup.py"' in PAGE
    done = subprocess.run(
        [sys.executable, "-c", EMBEDDED], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.replace(SECRET, "<SECRET>")
    leaked = SECRET in done.stderr
    assert not leaked, "the secret reached the log"
    assert done.stderr == f"WARNING mine: key {MASK}\n"


def test_the_declare_sample_masks_what_it_declares(capture: Capture) -> None:
    from docs_src.secrets.declare import app

    assert '--8<-- "docs_src/secrets/declare.py"' in PAGE

    async def scenario() -> None:
        report = await ainvoke(
            app, "secret", "create", input={"name": "a"}, secrets={"API_KEY": SECRET}
        )
        assert report.status == "ok", report.message

    anyio.run(scenario)
    text = capture.text.getvalue()
    assert f"INFO vault: opened session {MASK}" in text
    leaked = "session-for" in text or SECRET in text
    assert not leaked, "a secret reached the log"


def test_the_page_states_the_rule_the_code_applies() -> None:
    assert f"a secret of {MIN_INSIDE} characters or more is masked wherever it" in PAGE
    assert f"a secret of 1 to {MIN_INSIDE - 1} characters only where it stands" in PAGE.replace(
        "\n", " "
    )
