"""The samples of docs/emulator.md that live in docs_src/emulator: shown verbatim, and run."""

from __future__ import annotations

import functools
import re
import runpy
from pathlib import Path

import anyio.to_thread

from tempest_sdk.emulator import Emulator
from tempest_sdk.models import ExecuteResourceActionRequest, ExecuteResourceOperationRequest
from tempest_sdk.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "emulator.md"
BLOCK = re.compile(
    r'<!-- (docs_src/[\w/]+\.py) -->\n```python(?: title="[\w.]+")?\n(.*?)```\n', re.S
)
HELLOWORLD = ROOT / "examples" / "helloworld" / "app.py"


def test_the_guide_shows_each_file_verbatim():
    blocks = BLOCK.findall(GUIDE.read_text("utf-8"))

    assert [path for path, _ in blocks] == [
        "docs_src/emulator/builders.py",
        "docs_src/emulator/remote.py",
    ]
    for path, code in blocks:
        assert (ROOT / path).read_text("utf-8") == code, f"{path} differs from the guide"


def test_the_builders_sample():
    sample = runpy.run_path(str(ROOT / "docs_src" / "emulator" / "builders.py"))

    emulator: Emulator = sample["emulator"]
    assert emulator.queued("helloworld", "v1") == [sample["task_id"]]
    queued = emulator.task(sample["task_id"]).task
    assert isinstance(queued, ExecuteResourceOperationRequest)
    assert (queued.operation, queued.input) == ("update", {"color": "blue"})
    task = sample["task"].task
    assert isinstance(task, ExecuteResourceActionRequest)
    assert (task.action, task.input) == ("repaint", {"color": "green"})


async def test_the_remote_sample_against_a_served_emulator_and_the_real_runner():
    enqueue_and_wait = runpy.run_path(str(ROOT / "docs_src" / "emulator" / "remote.py"))[
        "enqueue_and_wait"
    ]
    app = runpy.run_path(str(HELLOWORLD))["app"]
    emulator = Emulator(token="docs-token")

    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(app, client=client, poll_interval_max=0.1),
    ):
        report = await anyio.to_thread.run_sync(
            functools.partial(enqueue_and_wait, emulator.url, emulator.token, timeout=30)
        )

    assert report["status"] == "ok"
    assert report["response"]["response_type"] == "list_resources"
    assert emulator.reported("helloworld", "v1") == [report["task_id"]]
