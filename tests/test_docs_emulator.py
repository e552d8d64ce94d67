"""The samples of docs/emulator.md that live in docs_src/emulator, run as shown."""

from __future__ import annotations

import importlib
import re
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import anyio
import pytest

from tempest_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


def run_sample(name: str) -> dict[str, object]:
    return runpy.run_module(f"docs_src.emulator.{name}", run_name="__main__")


def test_serving_in_a_thread_prints_a_loopback_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace = run_sample("serve_in_thread")
    url, _token = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", url)
    emulator = namespace["emulator"]
    assert isinstance(emulator, Emulator)
    assert not emulator.serving, "leaving the block stopped the server"


def test_the_in_process_client_needs_no_socket() -> None:
    namespace = run_sample("in_process")  # asserts an empty queue itself
    assert "emulator" not in namespace, "the emulator lives inside main()"


def test_the_enqueue_helpers_queue_one_task_each() -> None:
    emulator = run_sample("enqueueing")["emulator"]
    assert isinstance(emulator, Emulator)
    queued = emulator.queued("helloworld", "v1")
    kinds = [emulator.task(task_id).task.request_type for task_id in queued]
    assert kinds == [
        "execute_resource_operation",
        "execute_resource_action",
        "list_resources",
        "list_resources",
    ]


def test_an_expired_lease_puts_the_task_back() -> None:
    namespace = run_sample("leases")  # the sample asserts it; this checks it ran
    emulator = namespace["emulator"]
    assert isinstance(emulator, Emulator)
    assert emulator.queued() == [namespace["task_id"]]


def test_every_fault_of_the_list_is_accepted_then_cleared() -> None:
    namespace = run_sample("faults")
    emulator = namespace["emulator"]
    assert isinstance(emulator, Emulator)
    assert emulator.faults == [], "clear_faults() removed them all"
    fault = namespace["fault"]
    assert getattr(fault, "probability", None) == 0.1


@pytest.fixture
def end_to_end(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The sample test module, which imports the reader's app as `myapp`."""
    monkeypatch.syspath_prepend(str(ROOT / "docs_src" / "emulator"))
    try:
        yield importlib.import_module("docs_src.emulator.test_end_to_end")
    finally:
        sys.modules.pop("myapp", None)
        sys.modules.pop("docs_src.emulator.test_end_to_end", None)


async def test_the_end_to_end_sample_passes(end_to_end: ModuleType) -> None:
    await end_to_end.test_create_reports_the_new_resource()


def test_the_end_to_end_sample_passes_on_trio(end_to_end: ModuleType) -> None:
    anyio.run(end_to_end.test_create_reports_the_new_resource, backend="trio")
