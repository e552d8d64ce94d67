"""What the emulator answers to one HTTP request, whichever way the bytes travel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "json_answer"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What to answer: status, headers and body, plus what only the I/O layer can do.

    `delay` is injected latency to wait before answering; `drop` says to close the
    connection without any answer.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0
    drop: bool = False


def json_answer(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    """An answer with a JSON body."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Answer(status, [("content-type", "application/json"), *(headers or [])], body)
