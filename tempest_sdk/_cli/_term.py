"""Terminal output: colour only on a terminal, plain tables, JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["Out"]

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class Out:
    """Where a command writes; decides once whether colour is wanted."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        if color is None:
            color = (
                "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb"
                and hasattr(self.stream, "isatty")
                and self.stream.isatty()
            )
        self.color = color

    def style(self, text: str, *styles: str) -> str:
        """`text` wrapped in ANSI styles when colour is on."""
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def line(self, text: str = "") -> None:
        """Write one line."""
        self.stream.write(text + "\n")

    def json(self, data: Any) -> None:
        """Write data as indented JSON."""
        self.stream.write(json.dumps(data, indent=2, sort_keys=False) + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Write an aligned table. Cells may carry colour; widths use their visible text."""
        plain = [[_visible(c) for c in row] for row in rows]
        widths = [len(h) for h in headers]
        for plain_cells in plain:
            for i, text in enumerate(plain_cells):
                widths[i] = max(widths[i], len(text))
        self.line(
            "  ".join(self.style(h.ljust(w), "bold") for h, w in zip(headers, widths, strict=True))
        )
        for row, plain_row in zip(rows, plain, strict=True):
            cells = [
                cell + " " * (w - len(p)) for cell, p, w in zip(row, plain_row, widths, strict=True)
            ]
            self.line("  ".join(cells).rstrip())


def _visible(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            end = text.find("m", i)
            i = end + 1 if end != -1 else len(text)
            continue
        out.append(text[i])
        i += 1
    return "".join(out)
