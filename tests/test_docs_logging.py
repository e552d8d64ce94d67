"""The logging setups of docs/index.md and docs/client.md: each configures what the
page says, which a real client call through the emulator shows.

Each runs in its own interpreter: a sample configures the process's root logger.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# After the sample ran: one real call through the emulator (in process, no socket).
CALL = """
import {module}
from tempest_sdk.emulator import Emulator

with Emulator().sync_client() as client:
    assert client.next_task("helloworld", "v1") is None
"""
# The same call through an injected httpx client, which logs each request under `httpx`
# (the client's own requests go to its transport straight, past httpx's logging).
CALL_THROUGH_HTTPX = """
import {module}
import httpx
from tempest_sdk.emulator import Emulator

emulator = Emulator()
with (
    httpx.Client(transport=emulator.transport()) as http,
    emulator.sync_client(http_client=http) as client,
):
    assert client.next_task("helloworld", "v1") is None
"""


def run(module: str, call: str = CALL) -> str:
    """The sample's stderr after it configured logging and the client made a call."""
    result = subprocess.run(
        [sys.executable, "-c", call.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


NEXT = r"POST /apps\.operations\.next -> 204 in [\d.]+ ms \(attempt 1 of 4\)"


@pytest.mark.parametrize(
    ("module", "line"),
    [
        # basicConfig's default format: level, logger, message.
        ("docs_src.home.logging_setup", rf"^DEBUG:tempest_sdk\.client:{NEXT}$"),
        (
            "docs_src.client.logging_basic",
            rf"^\d{{4}}-\d\d-\d\d [\d:,]+ DEBUG tempest_sdk\.client {NEXT}$",
        ),
        # dictConfig's bare StreamHandler writes the message alone.
        ("docs_src.client.logging_dictconfig", rf"^{NEXT}$"),
    ],
)
def test_the_setup_shows_the_clients_debug_lines(module: str, line: str) -> None:
    stderr = run(module)
    assert re.search(line, stderr, re.M), stderr


def test_dictconfig_keeps_httpx_quiet_and_basicconfig_does_not() -> None:
    assert "HTTP Request: POST" not in run("docs_src.client.logging_dictconfig", CALL_THROUGH_HTTPX)
    assert "HTTP Request: POST" in run("docs_src.client.logging_basic", CALL_THROUGH_HTTPX)
