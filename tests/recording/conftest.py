"""A recorded run: the real runner against the real emulator on loopback, `record=` on."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import anyio

from tempest_sdk._backoff import Backoff
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

# A secret that changes under every encoding: URL, JSON (quotes, backslash, non-ASCII).
SECRET = 'sk-live/7Hq+Zx&y="q"\\é-9f3'
OTP = "otp-5551234"
PASSPHRASE = "correct-horse-battery"

OPTIONS: dict[str, Any] = {
    "retry_backoff": Backoff(base=0.01, cap=0.1, rng=random.Random(7)),
    "poll_interval_min": 0.005,
    "poll_interval_max": 0.05,
    "health_interval": 3600.0,
    "blocked_loop_warning": None,
}

ENV = [
    {"name": "REGION", "value": "eu-west-1", "type": "variable"},
    {"name": "API_KEY", "value": SECRET, "type": "secret"},
]


def encodings(secret: str) -> list[bytes]:
    """The forms a secret could leak in: raw, URL-encoded, JSON-escaped (once, twice)."""
    import json

    once = json.dumps(secret)[1:-1]
    texts = {
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        once,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(once)[1:-1],
    }
    return [text.encode() for text in texts]


def enqueue_mix(emulator: Emulator, version: str = "v1") -> list[str]:
    """Six tasks of every kind, two of them failing, secrets given to them."""
    return [
        emulator.enqueue_operation(
            "notes",
            version,
            "note",
            "create",
            input={"title": "hello world", "otp": OTP, "passphrase": PASSPHRASE},
            environment_variables=ENV,
        ),
        emulator.enqueue_operation(
            "notes",
            version,
            "note",
            "create",
            input={"title": "fail", "otp": OTP},
            environment_variables=ENV,
        ),
        emulator.enqueue_operation(
            "notes", version, "note", "read", external_id="some-note", environment_variables=ENV
        ),
        emulator.enqueue_operation(
            "notes", version, "note", "read", external_id="missing", environment_variables=ENV
        ),
        emulator.enqueue_action(
            "notes",
            version,
            "note",
            "shout",
            external_id="some-note",
            input={"times": 2},
            environment_variables=ENV,
        ),
        emulator.enqueue_list("notes", version, "note"),
    ]


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    try:
        with anyio.fail_after(timeout):
            while not condition():  # noqa: ASYNC110 - state of other threads
                await anyio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


async def record_run(
    path: Path,
    app: Any,
    enqueue: Callable[[Emulator], list[str]] = enqueue_mix,
    **options: Any,
) -> tuple[Emulator, list[str], Runner]:
    """Serve `app` with recording on until every enqueued task is reported, then stop."""
    emulator = Emulator()
    async with emulator.serve(), emulator.client() as client:
        ids = enqueue(emulator)
        runner = Runner(app, client, **{**OPTIONS, "record": path, **options})
        async with runner:
            await wait_until(
                lambda: set(ids) <= set(emulator.reported()), f"the {len(ids)} reports"
            )
    return emulator, ids, runner
