"""The command line's log output: one format for every line, from the options on.

The command line is a program's entry point, so it configures logging (a library
never does). With JSON chosen, every line the process writes to stderr is one JSON
object made by `JsonLogFormatter`, the line that says why it exits included; a
traceback is always in the `exception` field, trimmed to the user's frames like a
handler's (`--full-tracebacks` keeps them whole).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from .._logjson import JsonLogFormatter

__all__ = [
    "LOG_FORMAT_ENV",
    "early_log_format",
    "exit_line",
    "notice",
    "set_up_logging",
    "uses_json",
]

LOG_FORMAT_ENV = "TEMPEST_RUNNER_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)
logger = logging.getLogger("tempest_sdk.cli")


def early_log_format(argv: Sequence[str]) -> str:
    """The log format the command line asks for, read before the arguments are parsed,
    so that a mistake in them is reported in that format too.

    `--log-format` (a `serve` option) wins; for `serve`, `TEMPEST_RUNNER_LOG_FORMAT`
    next, as the runner reads it. Anything else is text.
    """
    given: str | None = None
    for at, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--log-format" and at + 1 < len(argv):
            given = argv[at + 1]
        elif arg.startswith("--log-format="):
            given = arg.partition("=")[2]
    if given is None and _command(argv) == "serve":
        given = os.environ.get(LOG_FORMAT_ENV, "").strip().lower() or None
    return "json" if given == "json" else "text"


def _command(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


class _UserFrames(logging.Formatter):
    """Formats a record's exception with the user's frames only, secrets masked."""

    def formatException(self, ei: _ExcInfo) -> str:
        # Here, not at the top: `--help` must not load what these import.
        from .._secrets import active_values, scrub
        from .._tracebacks import handler_traceback

        exc = ei[1]
        text = handler_traceback(exc) if exc is not None else super().formatException(ei)
        return scrub(text.rstrip("\n"), active_values())

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None:
            # Whatever formatted it before (the SDK's masking filter does, whole).
            record.exc_text = self.formatException(record.exc_info)
        return super().format(record)


class _TextFormatter(_UserFrames):
    pass


def _json_formatter() -> JsonLogFormatter:
    from .._logjson import JsonLogFormatter

    class _JsonFormatter(_UserFrames, JsonLogFormatter):
        pass

    return _JsonFormatter()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command line's stderr handler, told apart from a host program's."""


def set_up_logging(log_format: str, level: int = logging.WARNING) -> None:
    """Give the process one stderr handler in `log_format`, at `level`, replacing the
    one an earlier call gave it. Like `logging.basicConfig`, it leaves a program that
    configured logging itself (and runs `main()` in process) as it is."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    if root.handlers:
        return
    handler = _Handler(sys.stderr)
    # Secrets masked in every logger's records, text and JSON alike.
    from .._secrets import MaskingFilter

    handler.addFilter(MaskingFilter())
    if log_format == "json":
        handler.setFormatter(_json_formatter())
        # Python's warnings would be plain text lines otherwise.
        logging.captureWarnings(True)
    else:
        handler.setFormatter(_TextFormatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


def uses_json() -> bool:
    """Whether the process logs JSON lines (as `set_up_logging` set it up)."""
    module = sys.modules.get("tempest_sdk._logjson")
    if module is None:
        return False  # not even loaded, so no handler uses it
    json_class: type[logging.Formatter] = module.JsonLogFormatter
    handlers = logging.getLogger().handlers
    return bool(handlers) and all(isinstance(h.formatter, json_class) for h in handlers)


def exit_line(text: str, *, json_message: str | None = None, traceback: str | None = None) -> None:
    """Write the line that says why the process stops: `text` as it is (and the
    traceback before it), or with JSON logs one ERROR record whose message is
    `json_message` (default `text`) and whose `exception` is the traceback."""
    if not uses_json():
        if traceback:
            sys.stderr.write(traceback if traceback.endswith("\n") else traceback + "\n")
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return
    record = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 0, "%s", (json_message or text,), None
    )
    if traceback:
        record.exc_text = traceback.rstrip("\n")
    logger.handle(record)


def notice(text: str) -> None:
    """Tell the user something on stderr whatever `--log-level` says: `text` as it
    is, or with JSON logs one INFO record per line of it."""
    if not uses_json():
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()
        return
    for line in text.splitlines():
        if line.strip():
            logger.handle(
                logger.makeRecord(logger.name, logging.INFO, __file__, 0, "%s", (line,), None)
            )
