"""Removing the values of sensitive environment variables from text that leaves the process."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import EnvironmentVariable

__all__ = ["MASK", "scrub", "sensitive_values"]

MASK = "**********"
_MIN_LINE = 16


def sensitive_values(variables: Iterable[EnvironmentVariable] | None) -> tuple[str, ...]:
    """The non-empty sensitive values among `variables`, longest first.

    Longest first, so that a secret that contains another is masked whole.
    """
    if not variables:
        return ()
    values: set[str] = set()
    for variable in variables:
        if variable.is_sensitive:
            value = variable.reveal()
            values.add(value)
            # A key or certificate may leak one line at a time (in a parser's error).
            values.update(
                line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_LINE
            )
    values.discard("")
    return tuple(sorted(values, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every occurrence of each secret replaced by a mask."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
