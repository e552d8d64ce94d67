"""Full-jitter exponential backoff, shared by the API client and the runner."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays that grow exponentially, each drawn uniformly from `[0, ceiling]`.

    The ceiling of attempt `n` (0-based) is `min(cap, base * 2**n)`: "full jitter",
    which spreads retrying clients apart instead of letting them stampede together.

    Args:
        base: the ceiling of the first delay, in seconds.
        cap: the largest ceiling, in seconds.
        rng: where randomness comes from (seed one for deterministic tests).
    """

    base: float = 0.5
    cap: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt `attempt` may wait."""
        # Bound the exponent so huge attempt numbers cannot overflow a float.
        return min(self.cap, self.base * float(2 ** min(attempt, 62)))

    def delay(self, attempt: int) -> float:
        """A random delay for attempt `attempt`, in `[0, ceiling(attempt)]`."""
        return self.rng.uniform(0.0, self.ceiling(attempt))
