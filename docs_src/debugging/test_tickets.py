"""The failures recorded in production, as a test of the fixed app."""

from pathlib import Path

from tickets_fixed import app

from tempest_sdk.testing import replay

HERE = Path(__file__).parent
RECORDING = HERE / "recordings" / "tickets-errors.jsonl"
SECRETS = {"HELPDESK_TOKEN": "test-token"}


def test_the_tasks_that_failed_in_production_now_succeed() -> None:
    comparisons = replay(RECORDING, app, secrets=SECRETS, writes=True)
    assert comparisons, "the recording holds tasks of this app"
    for comparison in comparisons:
        assert comparison.replayed is not None
        report = comparison.replayed
        assert report.status == "ok", report.message
