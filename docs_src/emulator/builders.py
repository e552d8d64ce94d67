from tempest_sdk.emulator import (
    Emulator,
    action_request,
    next_answer,
    operation_request,
)
from tempest_sdk.models import parse_task

# The task object of a `next` answer, as Tempest sends it.
request = operation_request(
    "example",
    "update",
    external_id="example-1",
    input={"color": "blue"},
    properties={"color": "red"},
    environment_variables={"REGION": "eu-west-1"},
)

# Into an emulator's queue...
emulator = Emulator()
task_id = emulator.enqueue("helloworld", "v1", request)

# ...or the whole `next` answer (task id, task, metadata), read as the
# runner reads it, e.g. for `await app.dispatch(task)`.
repaint = action_request(
    "example", "repaint", external_id="example-1", input={"color": "green"}
)
task = parse_task(next_answer("task-1", repaint))
