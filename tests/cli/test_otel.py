"""Tracing from the command line: `serve` sets OpenTelemetry up from the standard
`OTEL_*` variables, `--otel` or `TEMPEST_RUNNER_OTEL`, and its spans come out of the
exporter the variables name (here the console exporter, on stdout)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

from tempest_sdk.emulator import Emulator

from .conftest import HELLOWORLD

pytest.importorskip("opentelemetry.sdk")


def _documents(text: str) -> list[Any]:
    """The JSON documents written one after another on stdout."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return found
        value, at = decoder.raw_decode(text, at)
        found.append(value)


def _env(**more: str) -> dict[str, str]:
    # None of the developer's own OpenTelemetry settings.
    blank = dict.fromkeys(("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"), "")
    return {**blank, "OTEL_SDK_DISABLED": "", **more}


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ((), {"OTEL_TRACES_EXPORTER": "console"}),
        (("--otel",), {"OTEL_TRACES_EXPORTER": "console"}),
        ((), {"TEMPEST_RUNNER_OTEL": "1", "OTEL_TRACES_EXPORTER": "console"}),
    ],
)
def test_serve_on_the_emulator_exports_a_span_per_task(cli, args, env):
    result = cli("serve", str(HELLOWORLD), "--emulator", "--json", *args, env=_env(**env))
    assert result.returncode == 0, result.stderr
    results, *spans = _documents(result.stdout)
    assert spans, "no span was exported"
    tasks = {r["task_id"]: r for r in results}
    consumers = {
        s["attributes"]["tempest.task.id"]: s for s in spans if s["kind"] == "SpanKind.CONSUMER"
    }
    # One span per task, named like the task, each with its fetch and its report.
    assert set(consumers) == set(tasks)
    names = sorted(s["name"] for s in consumers.values())
    assert names == sorted(
        [
            "create example",
            "list example",
            "read example",
            "update example",
            "action repaint on example",
            "delete example",
        ]
    )
    for task_id, span in consumers.items():
        assert span["attributes"]["tempest.app_id"] == "helloworld"
        assert span["attributes"]["tempest.task.outcome"] == tasks[task_id]["status"] == "ok"
        assert span["resource"]["attributes"]["service.name"] == "helloworld"
        children = sorted(s["name"] for s in spans if s["parent_id"] == span["context"]["span_id"])
        assert children == ["apps.operations.next", "apps.operations.report"], children
        assert all(
            s["context"]["trace_id"] == span["context"]["trace_id"]
            for s in spans
            if s["parent_id"] == span["context"]["span_id"]
        )


def test_the_service_name_comes_from_the_variables_when_set(cli):
    env = _env(OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="flags-prod")
    result = cli("serve", str(HELLOWORLD), "--emulator", "--json", env=env)
    assert result.returncode == 0, result.stderr
    _, *spans = _documents(result.stdout)
    assert spans
    assert {s["resource"]["attributes"]["service.name"] for s in spans} == {"flags-prod"}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none"},
        {"OTEL_TRACES_EXPORTER": "console", "TEMPEST_RUNNER_OTEL": "0"},
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"},
    ],
)
def test_no_tracing_unless_asked(cli, env):
    result = cli("serve", str(HELLOWORLD), "--emulator", "--json", env={**_env(), **env})
    assert result.returncode == 0, result.stderr
    (results,) = _documents(result.stdout)
    assert len(results) == 6


@pytest.mark.skipif(
    bool(entry_points(group="opentelemetry_traces_exporter", name="otlp_proto_grpc")),
    reason="the OTLP exporter is installed here",
)
def test_otlp_without_its_exporter_says_what_to_install(cli):
    # OTEL_TRACES_EXPORTER defaults to otlp, as the specification says.
    result = cli(
        "serve", str(HELLOWORLD), "--emulator", "--otel", "--log-format", "json", env=_env()
    )
    assert result.returncode == 1
    (line,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert line["level"] == "ERROR"
    assert "traces go out over OTLP" in line["message"]
    assert "pip install opentelemetry-exporter-otlp-proto-grpc" in line["message"]
    assert result.stdout == ""


def test_an_unknown_exporter_is_named(cli):
    env = _env(OTEL_TRACES_EXPORTER="console,carrier-pigeon")
    result = cli("serve", str(HELLOWORLD), "--emulator", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "tempest_sdk: OTEL_TRACES_EXPORTER='carrier-pigeon': no such traces exporter is "
        "installed (installed: console"
    ), result.stderr


def test_an_invalid_switch_is_named(cli):
    env = _env(TEMPEST_RUNNER_OTEL="maybe", OTEL_TRACES_EXPORTER="console")
    result = cli("serve", str(HELLOWORLD), "--emulator", env=env)
    assert result.returncode == 1
    assert "TEMPEST_RUNNER_OTEL='maybe' is not a boolean" in result.stderr


def test_without_the_opentelemetry_sdk_the_error_says_what_to_install(cli, tmp_path):
    # This process's OpenTelemetry SDK hidden, as if it were not installed.
    hide = (
        "import sys; sys.modules['opentelemetry.sdk'] = None; "
        "from tempest_sdk._cli import main; raise SystemExit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide, "serve", str(HELLOWORLD), "--emulator", "--otel"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "tempest_sdk: tracing (--otel, TEMPEST_RUNNER_OTEL=1 or OTEL_TRACES_EXPORTER) needs "
        "the OpenTelemetry SDK, which is not installed (no module named 'opentelemetry.sdk"
    ), last
    assert last.endswith("): pip install 'tempest-sdk[otel]' opentelemetry-sdk"), last


def test_serve_against_tempest_flushes_its_spans_when_stopped(tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPEST_", "OTEL_"))}
    with Emulator().serve_in_thread() as emulator:
        env = {
            **base,
            "TEMPEST_TOKEN": emulator.token,
            "TEMPEST_API_ENDPOINT": emulator.url,
            "OTEL_TRACES_EXPORTER": "console",
            # Longer than the test: the spans come out only through the flush at stop.
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tempest_sdk", "serve", str(HELLOWORLD)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            task = emulator.enqueue_operation("helloworld", "v1", "example", "create")
            emulator.wait_for_reports(1, timeout=120)
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    spans = _documents(stdout)
    (create,) = [s for s in spans if s["name"] == "create example"]
    assert create["attributes"]["tempest.task.id"] == task
    assert create["attributes"]["tempest.report.outcome"] == "acked"


def test_metrics_are_exported_when_their_exporter_is_named(cli):
    env = _env(OTEL_TRACES_EXPORTER="console", OTEL_METRICS_EXPORTER="console")
    result = cli("serve", str(HELLOWORLD), "--emulator", "--json", env=env)
    assert result.returncode == 0, result.stderr
    _, *documents = _documents(result.stdout)
    exported = [d for d in documents if "resource_metrics" in d]
    assert exported, "no metrics were exported"
    totals = [
        sum(point["value"] for point in metric["data"]["data_points"])
        for d in exported
        for rm in d["resource_metrics"]
        for sm in rm["scope_metrics"]
        for metric in sm["metrics"]
        if metric["name"] == "tempest.tasks"
    ]
    # Cumulative: the last export counts the run's six tasks.
    assert totals and totals[-1] == 6, totals
