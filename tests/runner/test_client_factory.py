"""A client factory is called in the runner's own loop, and its client closed there."""

from __future__ import annotations

from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner
from tempest_sdk.testing import sample_task


class _Recorder:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.made = 0
        self.closed = 0

    def __call__(self):
        self.made += 1
        client = self.emulator.client()
        original = client.aclose

        async def aclose() -> None:
            self.closed += 1
            await original()

        client.aclose = aclose  # type: ignore[method-assign]
        return client


def test_factory_client_is_built_in_the_runner_thread_and_closed(tmp_path):
    from tests.testing.conftest import ROOT, _load

    app = _load("_factory_helloworld", ROOT / "examples" / "helloworld" / "app.py").app
    with Emulator().serve_in_thread() as emulator:
        factory = _Recorder(emulator)
        handle = Runner(app, client=factory, health_interval=3600.0).start_in_thread()
        try:
            task = sample_task("example", "list")
            task_id = emulator.enqueue("helloworld", "v1", task.task)
            emulator.wait_for_reports(1, timeout=30)
            assert emulator.reports(task_id)[0]["status"] == "ok"
        finally:
            handle.stop()
    assert (factory.made, factory.closed) == (1, 1)
