"""Errors the command line turns into a message and an exit code."""

from __future__ import annotations

from .._errors import TempestError

__all__ = ["CLIError", "StartError", "UserCodeError"]


class CLIError(TempestError):
    """A mistake in how a command was called: printed as `error: ...`, exit code 2."""

    exit_code = 2


class UserCodeError(TempestError):
    """The user's own module failed; `traceback` is theirs, already trimmed of ours."""

    exit_code = 1

    def __init__(self, message: str, traceback: str) -> None:
        super().__init__(message)
        self.traceback = traceback


class StartError(TempestError):
    """The runner could not start or its options are wrong: printed as
    `tempest_sdk: ...` (as a standalone runner prints it), exit code 1."""

    exit_code = 1
