"""Limits of a resource type or an action: how many of its tasks run at once, how fast
they start. Declared with the type (`app.resource(..., max_concurrency=, rate_limit=)`)
or the action, frozen into the app's definition, and applied by the runner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NO_LIMITS", "Limits", "Rate", "check_limits"]


@dataclass(frozen=True, slots=True)
class Rate:
    """A maximum start rate: at most `count` task starts in any `per` seconds.

    The runner holds tasks back with a token bucket: starts are spaced `per / count`
    seconds apart, and after a quiet spell up to `burst` may start back to back
    (a window of `per` seconds then holds up to `burst + count - 1` starts).

    Example:
        `tempest.Rate(5, per=1.0)` (5 a second), `tempest.Rate(100, per=60)` (100 a minute).

    Args:
        count: Starts allowed per period, at least 1.
        per: The period in seconds (default 1).
        burst: Starts allowed back to back after a quiet spell (default 1: evenly spaced).
    """

    count: int
    per: float = 1.0
    burst: int = 1

    @property
    def interval(self) -> float:
        """Seconds between two starts at the full rate."""
        return self.per / self.count

    def __str__(self) -> str:
        burst = f", burst {self.burst}" if self.burst != 1 else ""
        return f"{self.count} per {self.per:g}s{burst}"


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of a resource type or an action (None: no such limit).

    Attributes:
        max_concurrency: most of its tasks that run at once in one runner process.
        rate: its maximum start rate in one runner process.
    """

    max_concurrency: int | None = None
    rate: Rate | None = None

    def __bool__(self) -> bool:
        return self.max_concurrency is not None or self.rate is not None

    def __str__(self) -> str:
        parts = []
        if self.max_concurrency is not None:
            parts.append(f"max_concurrency={self.max_concurrency}")
        if self.rate is not None:
            parts.append(f"rate {self.rate}")
        return ", ".join(parts) or "no limits"


NO_LIMITS = Limits()
"""The limits of a type or action that declares none."""


def check_limits(max_concurrency: object, rate_limit: object) -> tuple[Limits, list[str]]:
    """The declared limits, or the problems with them (each saying how to fix it)."""
    problems: list[str] = []
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or max_concurrency < 1
    ):
        problems.append(
            f"max_concurrency must be a whole number of tasks of at least 1 (or None for no "
            f"limit), not {max_concurrency!r}"
        )
    if rate_limit is not None:
        if not isinstance(rate_limit, Rate):
            problems.append(
                f"rate_limit must be a tempest.Rate, e.g. tempest.Rate(5, per=1.0) for 5 "
                f"starts a second, not {rate_limit!r}"
            )
        else:
            problems.extend(_rate_problems(rate_limit))
    if problems:
        return NO_LIMITS, problems
    if max_concurrency is None and rate_limit is None:
        return NO_LIMITS, []
    return Limits(
        max_concurrency if isinstance(max_concurrency, int) else None,
        rate_limit if isinstance(rate_limit, Rate) else None,
    ), []


def _rate_problems(rate: Rate) -> list[str]:
    problems = []
    count, per, burst = rate.count, rate.per, rate.burst
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        problems.append(
            f"rate_limit: count must be a whole number of starts of at least 1, not {count!r} "
            "(for fewer than one start a second, lengthen the period: tempest.Rate(1, per=10))"
        )
    if (
        isinstance(per, bool)
        or not isinstance(per, int | float)
        or not math.isfinite(per)
        or per <= 0
    ):
        problems.append(f"rate_limit: per must be a positive number of seconds, not {per!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        problems.append(
            f"rate_limit: burst must be a whole number of starts of at least 1, not {burst!r}"
        )
    return problems
