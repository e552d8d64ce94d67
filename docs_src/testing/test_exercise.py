import pytest
from app import app

from tempest_sdk.testing import exercise


@pytest.mark.anyio  # anyio's pytest plugin comes with tempest-sdk
async def test_end_to_end() -> None:
    results = await exercise(app)
    assert not any(r.failed for r in results), [
        r.to_json() for r in results if r.failed
    ]
