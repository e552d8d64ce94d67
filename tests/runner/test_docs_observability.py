"""docs/observability.md: its examples are the files of docs_src/observability, shown
verbatim, and they work against the real emulator on 127.0.0.1.

- `service.py` runs as the guide says (`python -m docs_src.observability.service`) in
  a process of its own: probes and metrics over HTTP, spans on its console, a SIGTERM
  to stop it.
- `fastapi_probes.py` serves the probes and metrics of an embedded runner from its
  own routes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest_sdk.emulator import Emulator

from .observability import get

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "observability.md"
BLOCK = re.compile(
    r'<!-- (docs_src/[\w/]+\.py) -->\n```python(?: title="[\w.]+")?\n(.*?)```\n', re.S
)


def test_the_guide_shows_its_examples_verbatim() -> None:
    blocks = BLOCK.findall(GUIDE.read_text("utf-8"))
    assert [path for path, _ in blocks] == [
        "docs_src/observability/service.py",
        "docs_src/observability/fastapi_probes.py",
    ]
    for path, code in blocks:
        assert (ROOT / path).read_text("utf-8") == code, f"{path} differs from the guide"


class _StatusAPI(BaseHTTPRequestHandler):
    """The status API the example app calls: `operational`, and the trace it was sent."""

    server: StatusAPI

    def do_GET(self) -> None:
        self.server.traceparents.append(self.headers.get("traceparent", ""))
        body = b"operational"
        head = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        self.wfile.write(head + body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StatusAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _StatusAPI)
        self.traceparents: list[str] = []


@pytest.fixture
def status_api() -> Iterator[StatusAPI]:
    server = StatusAPI()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def json_objects(text: str) -> list[dict[str, Any]]:
    """The JSON objects the console exporters printed, one after the other."""
    decoder, objects, index = json.JSONDecoder(), [], 0
    while True:
        start = text.find("{", index)
        if start < 0:
            return objects
        value, index = decoder.raw_decode(text, start)
        objects.append(value)


def test_the_standalone_service_serves_probes_metrics_and_traces(status_api: StatusAPI) -> None:
    emulator = Emulator()
    port = free_port()
    with emulator.serve_in_thread():
        env = {
            **os.environ,
            "TEMPEST_TOKEN": emulator.token,
            "TEMPEST_API_ENDPOINT": emulator.url,
            "TEMPEST_RUNNER_OPERATIONS_ADDRESS": f"127.0.0.1:{port}",
            "TEMPEST_RUNNER_POLL_INTERVAL_MAX": "0.2",
            "STATUS_API_URL": f"http://127.0.0.1:{status_api.server_address[1]}",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "docs_src.observability.service"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return get(url + "/readyz")[0] == 200
                except OSError:
                    assert process.poll() is None, process.communicate()
                    return False

            wait_for(ready, "the service to be ready")
            task_id = emulator.enqueue_operation(
                "status-pages", "v1", "page", "read", external_id="main"
            )
            emulator.wait_for_reports(1, timeout=30)
            status, _, scraped = get(url + "/metrics")
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    report = emulator.reports(task_id)[0]
    assert report["status"] == "ok", report
    assert report["response"]["resource"]["properties"] == {"status": "operational"}
    assert status == 200
    assert (
        'tempest_tasks_total{app="status-pages",kind="operation",name="read",'
        'outcome="ok",resource_type="page",version="v1"} 1.0'
    ) in scraped
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        get(url + "/livez")  # the endpoint stopped with the runner
    spans = [o for o in json_objects(out) if "context" in o and "name" in o]
    [task] = [s for s in spans if s["name"] == "read page"]
    assert task["attributes"]["tempest.task.id"] == task_id
    children = {s["name"] for s in spans if s.get("parent_id") == task["context"]["span_id"]}
    assert children >= {"apps.operations.next", "apps.operations.report", "GET"}
    [traceparent] = status_api.traceparents
    assert "0x" + traceparent.split("-")[1] == task["context"]["trace_id"]


async def test_the_fastapi_service_serves_the_runners_probes_and_metrics(monkeypatch) -> None:
    from docs_src.observability import fastapi_probes

    api = fastapi_probes.api
    emulator = Emulator()
    async with emulator.serve():
        monkeypatch.setenv("TEMPEST_TOKEN", emulator.token)
        monkeypatch.setenv("TEMPEST_API_ENDPOINT", emulator.url)
        monkeypatch.setenv("TEMPEST_RUNNER_POLL_INTERVAL_MAX", "0.2")
        # What an ASGI server does: enter the lifespan, then route requests to the app.
        async with (
            api.router.lifespan_context(api),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://t") as http,
        ):
            ready = await http.get("/readyz")
            live = await http.get("/livez")
            emulator.enqueue_operation(
                "greetings", "v1", "greeting", "create", input={"name": "Ada"}
            )
            await emulator.wait_for_reports_async(1, timeout=30)
            scraped = await http.get("/metrics")
    assert (ready.status_code, ready.text) == (200, "ready: serving greetings v1")
    # The runner's liveness, whichever it is: a loaded test machine may starve the loop.
    assert live.text == "alive: the runner is running" or live.status_code == 503
    assert scraped.status_code == 200
    assert 'name="create",outcome="ok"' in scraped.text
    assert "tempest_task_slots 16.0" in scraped.text


async def test_the_metric_table_lists_every_metric_the_registry_defines(tmp_path) -> None:
    from prometheus_client import Metric

    from tempest_sdk.runner import PrometheusMetrics, Runner

    from .fakes import FAST, FakeApp, FakeSource

    metrics = PrometheusMetrics()
    # With a runner (and an outbox), so that the gauges read from runners show too.
    async with Runner(FakeApp(), FakeSource(), hooks=[metrics], outbox=tmp_path, **FAST):
        families: list[Metric] = list(metrics.registry.collect())
    defined = {(f.name + "_total" if f.type == "counter" else f.name): f.type for f in families}
    text = GUIDE.read_text("utf-8")
    table = text[text.index("| metric | type | labels | meaning |") :]
    table = table[: table.index("\n\n")]
    rows = re.findall(r"^\| `(tempest_\w+)` \| (\w+) \|", table, re.M)
    assert dict(rows) == defined
