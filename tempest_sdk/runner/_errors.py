"""Errors the runner raises on purpose."""

from __future__ import annotations

from .._errors import TempestError

__all__ = ["RunnerConfigError", "RunnerStartupError"]


class RunnerConfigError(TempestError, ValueError):
    """A runner option or `TEMPEST_RUNNER_*` variable has an invalid value.

    The message names the option (or variable), the value's problem and the accepted range.
    """


class RunnerStartupError(TempestError):
    """The runner could not start: a rejected token, an unreachable endpoint, missing
    configuration or a failed connect.

    The message says what went wrong and how to fix it. Standalone runs (`run()`,
    `app.run()`) print it and exit with status 1.
    """
