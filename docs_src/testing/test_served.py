def test_served(tempest_emulator, tempest_runner):
    task_id = tempest_emulator.enqueue_operation(
        "my-app", "v1", "item", "create", input={}
    )
    tempest_emulator.wait_for_reports(1, timeout=10)
    assert tempest_emulator.reports(task_id)[0]["status"] == "ok"
