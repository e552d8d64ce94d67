import random

import pytest

from tempest_sdk._backoff import Backoff


def test_ceiling_grows_then_caps():
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.ceiling(10_000) == 4.0


@pytest.mark.parametrize("attempt", [0, 1, 3, 9])
def test_delay_stays_within_full_jitter_bounds(attempt):
    backoff = Backoff(base=0.1, cap=2.0, rng=random.Random(7))
    delays = [backoff.delay(attempt) for _ in range(500)]
    assert all(0.0 <= d <= backoff.ceiling(attempt) for d in delays)
    # Full jitter spreads delays over the whole range, not just near the ceiling.
    assert min(delays) < backoff.ceiling(attempt) * 0.1
    assert max(delays) > backoff.ceiling(attempt) * 0.9
