# ruff: noqa: RET504  (the docs show the handle as a name of its own)
from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner, RunnerThread

from .tempest_app import app


def start(url: str) -> RunnerThread[Runner]:
    """Serve `app` from a thread, against the control plane at `url`."""
    runner = Runner(app, client=lambda: AsyncTempestClient(endpoint=url))
    handle = runner.start_in_thread()
    return handle
