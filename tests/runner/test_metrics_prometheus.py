"""Prometheus metrics after a known workload, scraped over real HTTP from the operations
endpoint and parsed with prometheus-client's own parser."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import TaskReport
from tempest_sdk.runner import PrometheusMetrics, Runner, RunnerHook, TaskInfo
from tempest_sdk.runner._observe import outcome_of

from .observability import (
    APP_ID,
    BACKEND_IDS,
    BACKENDS,
    INPUT,
    OPTIONS,
    SECRET,
    VERSION,
    Widget,
    aget,
    enqueue_workload,
    run_lists,
    run_on,
    shop_app,
    shop_runner,
    wait_until,
)

SHOP = {"app": APP_ID, "version": VERSION}


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def value(text: str, metric: str, **labels: str) -> float:
    """The one sample of `metric` whose labels include `labels`."""
    found = [
        s.value for s in samples(text) if s.name == metric and labels.items() <= s.labels.items()
    ]
    assert len(found) == 1, (metric, labels, found)
    return found[0]


@pytest.mark.parametrize("backend", BACKENDS[:2], ids=BACKEND_IDS[:2])
def test_metrics_after_a_known_workload(backend, tmp_path: Path):
    scraped: dict[str, str] = {}
    ids: dict[str, str] = {}

    async def scenario() -> None:
        emulator = Emulator()
        # One report attempt fails and is retried.
        emulator.inject("apps.operations.report", status=503, times=1)
        metrics = PrometheusMetrics()
        async with (
            emulator.serve(),
            emulator.client() as client,
            Runner(
                shop_app(),
                client,
                hooks=[metrics],
                operations_address="127.0.0.1:0",
                outbox=tmp_path / "outbox",
                concurrency=4,
                **OPTIONS,
            ) as runner,
        ):
            ids.update(enqueue_workload(emulator))
            await emulator.wait_for_reports_async(len(ids))
            await wait_until(lambda: runner.pending_reports == 0, "every report settled")
            assert runner.operations_url is not None
            status, content_type, text = await aget(runner.operations_url + "/metrics")
            assert status == 200
            assert content_type.startswith("text/plain; version=0.0.4")
            scraped["text"] = text
            # The endpoint serves the hook's registry.
            scraped["registry"] = generate_latest(metrics.registry).decode()
            _, content_type, _ = await aget(
                runner.operations_url + "/metrics", accept="application/openmetrics-text"
            )
            scraped["openmetrics"] = content_type
        scraped["after"] = generate_latest(metrics.registry).decode()

    run_on(backend, scenario)
    text = scraped["text"]
    widget = {**SHOP, "resource_type": "widget"}
    expected = {
        ("operation", "create", "ok"): 1,
        ("operation", "update", "error"): 1,
        ("operation", "read", "timeout"): 1,
        ("operation", "delete", "ok"): 1,
        ("list", "list", "ok"): 1,
        ("action", "rebuild", "ok"): 1,
    }
    counted = {
        (s.labels["kind"], s.labels["name"], s.labels["outcome"]): s.value
        for s in samples(text)
        if s.name == "tempest_tasks_total"
    }
    assert counted == expected
    assert {
        s.labels["resource_type"] for s in samples(text) if s.name == "tempest_tasks_total"
    } == {"widget"}
    assert value(text, "tempest_task_duration_seconds_count", **widget, name="read") == 1
    assert value(text, "tempest_task_duration_seconds_sum", **widget, name="read") >= 0.05
    assert value(text, "tempest_polls_total", **SHOP, outcome="task") == 6
    assert value(text, "tempest_report_attempts_total", status="ok", outcome="acked") == 4
    assert value(text, "tempest_report_attempts_total", status="error", outcome="acked") == 2
    assert value(text, "tempest_report_attempts_total", outcome="retrying") == 1
    assert value(text, "tempest_retries_total", call="report") == 1
    assert value(text, "tempest_tasks_in_flight") == 0
    assert value(text, "tempest_task_slots") == 4
    assert value(text, "tempest_reports_pending") == 0
    assert value(text, "tempest_outbox_reports") == 0
    # 6 successes against 1 quick retry (3 tokens) from a full bucket of 100.
    assert 97 <= value(text, "tempest_retry_budget_tokens") <= 100
    # Present; its value depends on the machine's load (a starved loop answers late).
    assert value(text, "tempest_event_loop_blocked_seconds_total") >= 0
    health = {
        s.labels["status"]: s.value for s in samples(text) if s.name == "tempest_health_status"
    }
    assert health == {"healthy": 0, "degraded": 1, "disrupted": 0}
    # Bounded labels: no task id, no secret, no input anywhere in the scrape.
    for task_id in ids.values():
        assert task_id not in text
    assert SECRET not in text
    assert INPUT not in text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names == {f.name for f in text_string_to_metric_families(scraped["registry"])}
    assert scraped["openmetrics"].startswith("application/openmetrics-text")
    # Once the runner stopped, its state is no longer shown; the counts stay.
    assert [s for s in samples(scraped["after"]) if s.name == "tempest_tasks_in_flight"] == []
    assert "tempest_tasks_total{" in scraped["after"]


async def test_the_endpoint_serves_the_runners_metrics_without_a_metrics_hook():
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, operations_address="127.0.0.1:0", **OPTIONS) as runner,
    ):
        emulator.enqueue_list(APP_ID, VERSION, "widget")
        await emulator.wait_for_reports_async(1)
        assert runner.operations_url is not None
        _, _, text = await aget(runner.operations_url + "/metrics")
    assert value(text, "tempest_tasks_total", kind="list", outcome="ok") == 1
    # No outbox: no figure.
    assert [s for s in samples(text) if s.name == "tempest_outbox_reports"] == []


async def test_recording_counts_are_exported(tmp_path: Path):
    metrics = PrometheusMetrics()
    emulator = Emulator()
    async with shop_runner(emulator, hooks=[metrics], record=tmp_path / "t.jsonl") as runner:
        text = generate_latest(metrics.registry).decode()
        assert value(text, "tempest_records_written_total") == 0
        await run_lists(emulator, 3)
        await wait_until(lambda: runner.sample().records_written == 3, "3 records written")
        text = generate_latest(metrics.registry).decode()
    assert value(text, "tempest_records_written_total") == 3
    assert value(text, "tempest_records_dropped_total") == 0
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 3


async def test_metrics_go_to_the_registry_given_and_one_registry_takes_one_set():
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    assert metrics.registry is registry
    with pytest.raises(ValueError, match="already holds tempest_sdk's metrics") as info:
        PrometheusMetrics(registry)
    assert "pass the same PrometheusMetrics to every runner" in str(info.value)
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, hooks=[metrics], **OPTIONS),
    ):
        emulator.enqueue_list(APP_ID, VERSION, "widget")
        await emulator.wait_for_reports_async(1)
        text = generate_latest(registry).decode()
    assert value(text, "tempest_tasks_total", kind="list") == 1


def test_labels_of_undeclared_types_and_actions_are_other():
    class Served:
        apps = (shop_app(),)

    metrics = PrometheusMetrics()
    metrics.bind(Served())  # type: ignore[arg-type]
    declared = TaskInfo(APP_ID, VERSION, "t1", "action", "widget", "rebuild")
    unknown_action = TaskInfo(APP_ID, VERSION, "t2", "action", "widget", "t2-made-up")
    unknown_type = TaskInfo(APP_ID, VERSION, "t3", "operation", "t3-made-up", "create")
    weird_operation = TaskInfo(APP_ID, VERSION, "t4", "operation", "widget", "t4-made-up")
    assert metrics.labels(declared) == (APP_ID, VERSION, "widget", "action", "rebuild")
    assert metrics.labels(unknown_action) == (APP_ID, VERSION, "widget", "action", "other")
    assert metrics.labels(unknown_type) == (APP_ID, VERSION, "other", "operation", "create")
    assert metrics.labels(weird_operation) == (APP_ID, VERSION, "widget", "operation", "other")


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("read of 'widget' timed out after 0.05s", "timeout"),
        (
            "action 'rebuild' of 'widget' timed out after 30s waiting for a free worker thread",
            "timeout",
        ),
        ("update of 'widget' failed: ReadTimeout: timed out after 5s", "error"),
        ("timed out after 5s", "error"),
        ("cancelled after 25.3s: the app was shutting down", "error"),
    ],
)
def test_timeouts_are_told_from_other_errors(message, outcome):
    assert outcome_of(TaskReport.error("t", message)) == outcome


def test_a_hook_is_a_runner_hook():
    assert isinstance(PrometheusMetrics(), RunnerHook)


async def test_the_wait_for_a_types_limits_is_measured(caplog):
    # The runner's DEBUG record says when a task starts waiting for its limits.
    caplog.set_level(logging.DEBUG, logger="tempest_sdk.runner")
    app = tempest.App(APP_ID, VERSION)
    widget = app.resource(
        "widget",
        display_name="Widget",
        description="A widget.",
        properties=Widget,
        max_concurrency=1,
    )
    release = anyio.Event()

    @widget.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        await release.wait()
        return tempest.Resource(external_id="w", display_name="w", properties={"color": "x"})

    metrics = PrometheusMetrics()
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(app, client, hooks=[metrics], **OPTIONS) as runner,
    ):
        for _ in range(2):
            emulator.enqueue_operation(APP_ID, VERSION, "widget", "create")
        # One runs, the other waits for the type's limit of 1.
        await wait_until(lambda: len(emulator.leased()) == 2, "both tasks leased")
        await wait_until(lambda: runner.in_flight == 1, "one task running")
        # Released only once the other waits: a loaded machine may take its time.
        await wait_until(
            lambda: any("waits for the limits of" in r.getMessage() for r in caplog.records),
            "the second task waiting for the limit",
        )
        release.set()
        await emulator.wait_for_reports_async(2)
    text = generate_latest(metrics.registry).decode()
    widget_labels = {**SHOP, "resource_type": "widget", "name": "create"}
    assert value(text, "tempest_task_limit_wait_seconds_count", **widget_labels) == 1
    assert value(text, "tempest_task_limit_wait_seconds_sum", **widget_labels) > 0
    assert value(text, "tempest_tasks_total", **widget_labels) == 2
