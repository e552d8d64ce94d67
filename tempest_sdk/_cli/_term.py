"""Terminal output: colour only on a terminal, plain tables, JSON, a live status line."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from .._secrets import Masker, mask, mask_data, masker_for

__all__ = ["Out", "Progress"]

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class Out:
    """Where a command writes; decides once whether colour is wanted.

    Everything written passes the masking owner: the secrets the process knows now
    (serving apps', tasks in flight) and `secrets` (a command's own: `invoke`'s
    `--secret` values, which are gone from the process once its task has ended).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        color: bool | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self._known = tuple(secrets)
        self._secrets: Masker = masker_for(frozenset(self._known))
        if color is None:
            color = (
                "NO_COLOR" not in os.environ
                and os.environ.get("TERM") != "dumb"
                and hasattr(self.stream, "isatty")
                and self.stream.isatty()
            )
        self.color = color

    def with_secrets(self, secrets: Iterable[str]) -> Out:
        """This output, masking `secrets` too (a run's tasks' own, once they ended)."""
        more = Out(self.stream, color=self.color, secrets=secrets)
        more._secrets = masker_for(frozenset((*self._known, *more._known)))
        more._known = (*self._known, *more._known)
        return more

    @property
    def is_terminal(self) -> bool:
        """Whether a person reads this output on a terminal (else it is kept: a file,
        a pipe, a CI log), so long lines may be cut."""
        return _isatty(self.stream)

    def mask(self, text: str) -> str:
        """`text` as this output would write it: before cutting it short, say."""
        return self._secrets.mask(mask(text))

    def style(self, text: str, *styles: str) -> str:
        """`text` wrapped in ANSI styles when colour is on."""
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def line(self, text: str = "") -> None:
        """Write one line, secrets masked."""
        self.stream.write(self.mask(text) + "\n")

    def json(self, data: Any) -> None:
        """Write data as indented JSON, secrets masked in every string (keys too)."""
        data = self._secrets.mask_data(mask_data(data))
        self.stream.write(json.dumps(data, indent=2, sort_keys=False) + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Write an aligned table. Cells may carry colour; widths use their visible text.
        Secrets are masked in each cell before widths are measured."""
        rows = [[self.mask(cell) for cell in row] for row in rows]
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


class Progress:
    """A status line rewritten in place on a terminal while something runs.

    It appears once the run has lasted `delay` seconds, and writes nothing at all when
    the stream is not a terminal (pipes, files, CI logs) or the terminal is dumb.
    Other output must call `clear()` first; inside `logging_cleared()` log records do.

    Args:
        stream: where the line goes (default: stdout).
        delay: seconds before the line first shows, so that quick runs stay quiet.
    """

    def __init__(self, stream: TextIO | None = None, *, delay: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = _isatty(self.stream) and os.environ.get("TERM") != "dumb"
        self._shown_after = time.monotonic() + delay
        self._width = 0
        # Log records are written from worker and server threads too.
        self._lock = threading.Lock()

    def show(self, text: str) -> None:
        """Replace the line with `text` (cut to the terminal's width)."""
        if not self.enabled or time.monotonic() < self._shown_after:
            return
        text = mask(text)[: max(shutil.get_terminal_size().columns - 1, 10)]
        with self._lock:
            pad = " " * max(self._width - len(text), 0)
            self.stream.write("\r" + text + pad)
            self.stream.flush()
            self._width = len(text)

    def clear(self) -> None:
        """Erase the line, leaving the cursor at the start of the empty line."""
        with self._lock:
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0

    @contextlib.contextmanager
    def logging_cleared(self) -> Iterator[Progress]:
        """Erase the line before each log record the root logger's handlers write,
        for the block; erase it at the end."""
        handlers = list(logging.getLogger().handlers) if self.enabled else []
        hook = _ClearFirst(self)
        for handler in handlers:
            handler.addFilter(hook)
        try:
            yield self
        finally:
            for handler in handlers:
                handler.removeFilter(hook)
            self.clear()


class _ClearFirst(logging.Filter):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self._progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self._progress.clear()
        return True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


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
