from tempest_sdk.emulator import Emulator, list_request

emulator = Emulator()
app_id, version = "helloworld", "v1"

# fmt: off
emulator.enqueue_operation(
    app_id, version, "example", "update", external_id="ex-1",
    input={"color": "blue"}, properties={"color": "red"},
    environment_variables={"REGION": "eu-west-1"},
)
emulator.enqueue_action(
    app_id, version, "example", "rebuild", external_id="ex-1",
    input={"force": True},
)
emulator.enqueue_list(app_id, version, "example", next="")  # first page
# Any task, as a dict or a model:
emulator.enqueue(app_id, version, list_request("example", next="2"))
# fmt: on
