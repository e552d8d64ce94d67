from tempest_sdk.emulator import Emulator

now = [0.0]
emulator = Emulator(lease_timeout=5.0, clock=lambda: now[0])
# ... a client takes the task and never reports it ...
task_id = emulator.enqueue_list("helloworld", "v1", "example")
with emulator.sync_client() as client:
    assert client.next_task("helloworld", "v1") is not None
assert emulator.queued() == []  # leased, so not handed out
now[0] += 5.0
assert emulator.queued() == [task_id]  # it will be handed out again
