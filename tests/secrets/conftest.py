"""Shared pieces of the secrets tests: a secret never written whole in the sources,
an app whose handlers leak it on every road, and a log capture like the CLI's."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tempest_sdk import JsonLogFormatter, MaskingFilter

# Built so that the secret is never written whole in a source file.
SECRET = "pw-" + "Zq8xK2" * 3
SETTINGS_SECRET = "st-" + "Hh4Lm9" * 3
MASKED_AT_RUNTIME = "rt-" + "Pp5Vb3" * 3
INPUT_SECRET = "in-" + "Gg7Rt1" * 3

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


class Capture:
    """Root-logger handlers as `tempest-sdk serve` configures them: one text, one
    JSON, each with `MaskingFilter`."""

    def __init__(self) -> None:
        self.text = io.StringIO()
        self.json = io.StringIO()
        self.handlers: list[logging.Handler] = []
        for stream, formatter in (
            (self.text, logging.Formatter("%(levelname)s %(name)s: %(message)s")),
            (self.json, JsonLogFormatter()),
        ):
            handler = logging.StreamHandler(stream)
            handler.setFormatter(formatter)
            handler.addFilter(MaskingFilter())
            self.handlers.append(handler)

    def output(self) -> str:
        return self.text.getvalue() + self.json.getvalue()


@pytest.fixture
def capture() -> Iterator[Capture]:
    root = logging.getLogger()
    level = root.level
    found = Capture()
    for handler in found.handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield found
    finally:
        for handler in found.handlers:
            root.removeHandler(handler)
        root.setLevel(level)
