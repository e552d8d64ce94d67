"""The samples of docs/runner.md, run with the real runner against the emulator on
127.0.0.1: standalone (a process stopped by SIGTERM), embedded, in a thread, hooks.
"""

from __future__ import annotations

import importlib
import os
import runpy
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner, RunnerHook

ROOT = Path(__file__).resolve().parents[1]
# docs_src/running/tempest_app.py, which the samples serve.
GREETINGS = ("greetings", "v1")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator on 127.0.0.1 that the samples find through the environment."""
    emulator = Emulator()
    with emulator.serve_in_thread():
        monkeypatch.delenv("TEMPEST_TOKEN_FILE", raising=False)
        monkeypatch.setenv("TEMPEST_API_ENDPOINT", emulator.url)
        monkeypatch.setenv("TEMPEST_TOKEN", emulator.token)
        yield emulator
    assert emulator.violations == []


def enqueue_greeting(emulator: Emulator) -> str:
    return emulator.enqueue_operation(*GREETINGS, "greeting", "create", input={"name": "Ada"})


def assert_ok(emulator: Emulator, task_id: str) -> None:
    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok", report.get("message")


@pytest.mark.parametrize(
    ("argv", "task"),
    [
        (["docs_src/running/standalone.py"], ("standalone", "v1", "note")),
        (["-m", "docs_src.running.hooks_metrics"], (*GREETINGS, "greeting")),
    ],
    ids=["standalone", "hooks_metrics"],
)
def test_app_run_serves_until_sigterm(
    emulator: Emulator, argv: list[str], task: tuple[str, str, str]
) -> None:
    app_id, version, resource_type = task
    task_id = emulator.enqueue_operation(
        app_id, version, resource_type, "create", input={"name": "Ada"}
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            emulator.wait_for_reports(1, timeout=60)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert_ok(emulator, task_id)


def test_the_embedded_runner_serves_while_the_program_works(emulator: Emulator) -> None:
    task_id = enqueue_greeting(emulator)
    runpy.run_module("docs_src.running.embedded", run_name="__main__")
    # Ready meant polled; leaving drained the task the first poll brought.
    assert_ok(emulator, task_id)


def test_the_task_group_recipe_runs_and_shuts_down(emulator: Emulator) -> None:
    task_id = enqueue_greeting(emulator)
    runpy.run_module("docs_src.running.task_group", run_name="__main__")
    assert_ok(emulator, task_id)


def test_the_thread_recipe_runs_beside_a_synchronous_program(
    emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = enqueue_greeting(emulator)
    runpy.run_module("docs_src.running.in_thread", run_name="__main__")
    assert capsys.readouterr().out == "working\n"
    assert_ok(emulator, task_id)


def test_the_client_factory_is_called_with_the_given_url(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the factory knows where the emulator is.
    monkeypatch.setenv("TEMPEST_API_ENDPOINT", "http://127.0.0.1:9/api/v1")
    start = importlib.import_module("docs_src.running.client_factory").start
    task_id = enqueue_greeting(emulator)
    with start(emulator.url):
        emulator.wait_for_reports(1, timeout=60)
    assert_ok(emulator, task_id)


async def serve_one_task(emulator: Emulator, hook: RunnerHook) -> str:
    app = importlib.import_module("docs_src.running.tempest_app").app
    task_id = enqueue_greeting(emulator)
    async with emulator.client() as client, Runner(app, client, hooks=[hook]):
        await emulator.wait_for_reports_async(1, timeout=60)
    return task_id


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_metrics_hook_counts_tasks_polls_and_reports(backend: str) -> None:
    metrics = importlib.import_module("docs_src.running.hooks_metrics")
    task = {"app": "greetings", "kind": "operation", "name": "create", "status": "ok"}
    before = sample("myapp_tasks_total", task)
    polled = sample("myapp_polls_total", {"app": "greetings", "outcome": "task"})
    acked = sample("myapp_report_attempts_total", {"outcome": "acked"})
    emulator = Emulator()

    task_id = anyio.run(serve_one_task, emulator, metrics.Metrics(), backend=backend)

    assert_ok(emulator, task_id)
    assert sample("myapp_tasks_total", task) == before + 1
    assert sample("myapp_polls_total", {"app": "greetings", "outcome": "task"}) == polled + 1
    assert sample("myapp_report_attempts_total", {"outcome": "acked"}) == acked + 1
    seconds = {"app": "greetings", "kind": "operation"}
    assert sample("myapp_task_seconds_count", seconds) >= 1


async def test_the_tracing_hook_wraps_each_task_in_a_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracing = importlib.import_module("docs_src.running.hooks_tracing")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The sample's module-level tracer, from a provider this test can read.
    monkeypatch.setattr(tracing, "tracer", provider.get_tracer("myapp"))
    emulator = Emulator()

    task_id = await serve_one_task(emulator, tracing.Tracing())

    assert_ok(emulator, task_id)
    (span,) = exporter.get_finished_spans()
    assert span.name == "operation create"
    assert span.attributes == {"tempest.task_id": task_id, "tempest.status": "ok"}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_stopping_sample_stops_between_batches(emulator: Emulator, backend: str) -> None:
    """docs/runner.md, Shutdown: the batch copy sees the drain and reports it."""
    module = importlib.reload(importlib.import_module("docs_src.running.stopping"))
    task_id = emulator.enqueue_action(
        "backfill", "v1", "archive", "copy", external_id="a1", input={"batches": 1000}
    )

    async def scenario() -> None:
        runner = Runner(module.app, emulator.client, shutdown_grace=10.0)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            while len(module.copied) < 3:  # noqa: ASYNC110 - a few batches in
                await anyio.sleep(0.01)
            await runner.shutdown()

    anyio.run(scenario, backend=backend)
    [report] = emulator.reports(task_id)
    assert report["status"] == "error"
    assert "run it again" in report["message"]
    assert 3 <= len(module.copied) < 1000
