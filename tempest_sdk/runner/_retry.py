"""How long the runner waits after a failed call, and how much retrying it allows.

One rule for `next` and `report` calls:
- an isolated failure is retried after a short jittered pause (up to a quarter of
  `retry_backoff.base`);
- each further consecutive failure doubles the ceiling, up to `retry_backoff.cap`
  (full jitter);
- a `Retry-After` the source gave is honoured, bounded by the cap;
- a retry budget, shared by all of a runner's calls, stops retry storms: when most
  calls fail the budget runs dry and every failure waits about the cap.
"""

from __future__ import annotations

import math

from .._backoff import Backoff
from .._outcomes import RetryLaterError

__all__ = ["RetryBudget", "retry_delay"]


class RetryBudget:
    """A token bucket, as in the AWS SDKs' standard retry mode.

    A quick retry costs `cost` tokens and a success puts one back, so quick retries
    go on while fewer than about one call in `cost + 1` fails (with the default 3:
    one in four), and stop when a control plane fails most calls.

    Args:
        capacity: the tokens held when full (and at start).
        cost: the tokens a quick retry takes.
    """

    def __init__(self, capacity: int = 100, cost: int = 3) -> None:
        self.capacity = capacity
        self.cost = cost
        self._tokens = capacity

    @property
    def tokens(self) -> int:
        """Tokens left."""
        return self._tokens

    def withdraw(self) -> bool:
        """Take the cost of a quick retry; False when the budget cannot pay it."""
        if self._tokens < self.cost:
            return False
        self._tokens -= self.cost
        return True

    def deposit(self) -> None:
        """A call succeeded: one token back, up to the capacity."""
        if self._tokens < self.capacity:
            self._tokens += 1


def retry_delay(
    backoff: Backoff, failures: int, budget: RetryBudget, exc: BaseException | None
) -> float:
    """Seconds to wait after the `failures`-th consecutive failure (1 is isolated)."""
    if budget.withdraw():
        ceiling = min(backoff.cap, backoff.base / 4 * 2.0 ** min(failures - 1, 62))
        delay = backoff.rng.uniform(0.0, ceiling)
    else:
        # The budget is dry: most calls fail. Wait about the cap, still jittered so
        # that replicas spread out.
        delay = backoff.rng.uniform(backoff.cap / 2, backoff.cap)
    retry_after = exc.retry_after if isinstance(exc, RetryLaterError) else None
    if retry_after is not None and math.isfinite(retry_after):
        delay = max(delay, min(retry_after, backoff.cap))
    return delay
