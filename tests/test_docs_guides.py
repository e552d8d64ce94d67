"""The guides' running example, greetings, does on each page what the page says.

Getting started's `app.py` (tests/test_docs_site.py) grows in Writing apps
(docs_src/writing_apps/app.py), gains a lifespan and settings in Lifespan
(docs_src/lifespan/app.py), is tested in Testing (docs_src/testing, beside a copy
of that app) and is served with its operations endpoint in Deployment. Each command
a page shows runs here as shown, through the real CLI, runner and emulator on
127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tempest_sdk.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ROW = re.compile(r"^(greeting\.\w+)\s+ok\b", re.M)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tempest_sdk", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_writing_apps_serves_every_handler_as_shown() -> None:
    page = (DOCS / "writing-apps.md").read_text("utf-8")
    assert '```python title="app.py"\n--8<-- "docs_src/writing_apps/app.py"' in page
    shown = ROW.findall(page)
    # "More handlers" has a create: every other step has a greeting to act on.
    assert shown == [
        "greeting.create",
        "greeting.list",
        "greeting.read",
        "greeting.update",
        "greeting.send",
        "greeting.delete",
    ]
    result = cli("serve", "docs_src/writing_apps/app.py", "--emulator")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ROW.findall(result.stdout) == shown
    assert "6/6 tasks reported ok" in result.stdout
    assert "6/6 tasks reported ok" in page


def test_the_lifespan_app_runs_as_the_page_says() -> None:
    page = (DOCS / "lifespan.md").read_text("utf-8")
    assert '```python title="app.py"\n--8<-- "docs_src/lifespan/app.py"' in page
    assert 'pip install -e "./tempest-sdk[settings]"' in page
    served = cli("serve", "docs_src/lifespan/app.py", "--emulator")
    assert served.returncode == 0, served.stdout + served.stderr
    assert "5/5 tasks reported ok" in served.stdout
    assert "`5/5 tasks reported ok`" in page

    invoked = cli(
        "invoke",
        "docs_src/lifespan/app.py",
        "greeting",
        "create",
        "--input",
        '{"name": "Ada"}',
        env={"GREETINGS_SALUTATION": "Hi"},
    )
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    assert '"display_name": "Hi, Ada!"' in page
    report = json.loads(invoked.stdout)
    assert report["response"]["resource"]["display_name"] == "Hi, Ada!"

    bad = cli("serve", "docs_src/lifespan/app.py", "--emulator", env={"GREETINGS_PAGE_SIZE": "0"})
    assert bad.returncode != 0
    assert "GREETINGS_PAGE_SIZE" in bad.stdout + bad.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_operations_endpoint_one_liner(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    page = (DOCS / "deployment.md").read_text("utf-8")
    assert "tempest-sdk serve app.py --emulator --keep-serving \\\n" in page
    assert "    --operations-address 127.0.0.1:9000" in page
    port = _free_port()
    output = tmp_path / "serve.out"
    with output.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "tempest_sdk", "serve", "docs_src/lifespan/app.py",
                "--emulator", "--keep-serving", "--operations-address", f"127.0.0.1:{port}",
            ],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "Still serving" not in output.read_text("utf-8"):
            assert process.poll() is None, output.read_text("utf-8")
            assert time.monotonic() < deadline, output.read_text("utf-8")
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.text.strip() == "ready: serving greetings v1"
        assert "ready: serving greetings v1" in page
        assert httpx.get(f"{base}/livez", timeout=10).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
        series = [line for line in metrics.splitlines() if line.startswith("tempest_tasks_total{")]
        assert len(series) == 5, metrics
        assert all('app="greetings"' in line and 'outcome="ok"' in line for line in series)
        assert "grep -c '^tempest_tasks_total{'\n5\n" in page
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "5/5 tasks reported ok" in output.read_text("utf-8")


def test_observability_serves_the_app_with_json_logs_and_metrics(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    page = (DOCS / "observability.md").read_text("utf-8")
    assert '```python title="run.py"\n--8<-- "docs_src/observability/greetings/run.py"' in page
    folder = ROOT / "docs_src" / "observability" / "greetings"
    # run.py sits beside the lifespan guide's app.py, as the page says.
    lifespan_app = (ROOT / "docs_src" / "lifespan" / "app.py").read_text("utf-8")
    assert (folder / "app.py").read_text("utf-8") == lifespan_app
    port = _free_port()
    emulator = Emulator()
    task_id = emulator.enqueue_operation(
        "greetings", "v1", "greeting", "create", input={"name": "Ada"}
    )
    log = tmp_path / "run.log"
    with emulator.serve_in_thread(), log.open("w") as out:
        env = {
            **os.environ,
            "TEMPEST_TOKEN": emulator.token,
            "TEMPEST_API_ENDPOINT": emulator.url,
            "OPERATIONS_ADDRESS": f"127.0.0.1:{port}",
        }
        process = subprocess.Popen(
            [sys.executable, "run.py"], cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            emulator.wait_for_reports(1, timeout=60)
            metrics = ""
            deadline = time.monotonic() + 30
            while 'name="create",outcome="ok"' not in metrics:
                assert time.monotonic() < deadline, metrics
                metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
                time.sleep(0.1)
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok", report
    assert code == 0, log.read_text("utf-8")
    lines = [
        json.loads(line) for line in log.read_text("utf-8").splitlines() if line.startswith("{")
    ]
    assert lines, log.read_text("utf-8")
    assert all({"level", "logger", "message"} <= set(line) for line in lines), lines[0]
    # The token never shows.
    assert emulator.token not in log.read_text("utf-8")
