from app import app

from tempest_sdk.emulator import Emulator
from tempest_sdk.models import TaskReport
from tempest_sdk.runner import Runner, RunnerThread


def test_served(
    tempest_emulator: Emulator, tempest_runner: RunnerThread[Runner]
) -> None:
    # `tempest_runner` serves `tempest_app` (conftest.py): its settings and
    # its store.
    task_id = tempest_emulator.enqueue_operation(
        app.app_id, app.version, "greeting", "read", external_id="greeting-7"
    )
    tempest_emulator.wait_for_reports(1, timeout=10)
    # What the app sent, as a dict; read it back as a typed report.
    (sent,) = tempest_emulator.reports(task_id)
    report = TaskReport.from_wire(sent)
    assert report.status == "ok", report.message
    assert report.resource.display_name == "Hi, Ada!"
