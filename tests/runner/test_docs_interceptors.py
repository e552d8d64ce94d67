"""The samples of docs/interceptors.md, served by the real runner against the real
emulator on 127.0.0.1 (asyncio, trio, uvloop)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from docs_src.interceptors import audit, propagate
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

from .fakes import FAST
from .observability import BACKEND_IDS, BACKENDS, run_on

ROOT = Path(__file__).resolve().parents[2]
SECRET = "an-api-key-never-in-the-audit"


def test_the_page_shows_both_samples_whole() -> None:
    page = (ROOT / "docs" / "interceptors.md").read_text("utf-8")
    for sample in ("audit", "propagate"):
        assert f'--8<-- "docs_src/interceptors/{sample}.py"\n' in page


async def test_the_audit_trail_says_who_asked_what_and_masks_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = Emulator(seed=11)
    task_id = emulator.enqueue_operation(
        "notes",
        "v1",
        operation="create",
        resource_type="note",
        environment_variables=[
            {"name": "API_KEY", "value": SECRET, "type": "secret"},
            {"name": "REGION", "value": "eu-west-1", "type": "variable"},
        ],
    )
    with caplog.at_level(logging.INFO, logger="notes.audit"):
        async with (
            emulator.serve(),
            emulator.client() as client,
            Runner(audit.app, client, hooks=[audit.Audit()], **FAST),
        ):
            assert emulator.url.startswith("http://127.0.0.1:")
            await emulator.wait_for_reports_async(1)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "notes.audit"]
    record = json.loads(line)
    (report,) = emulator.reports(task_id)
    assert report["status"] == "ok"
    assert record["task_id"] == task_id
    assert record["app"] == "notes v1"
    assert record["task"] == "create note"
    assert record["status"] == "ok"
    assert "@" in record["author"]
    assert record["project"]
    variables = {v["name"]: v["value"] for v in record["request"]["environment_variables"]}
    assert variables["REGION"] == "eu-west-1"
    assert variables["API_KEY"] != SECRET
    assert SECRET not in line


def fake_inventory(seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": f"item-{len(seen)}"})

    return propagate.inventory_client(transport=httpx.MockTransport(answer))


async def headers_reach_the_handlers_client() -> None:
    emulator = Emulator(seed=12)
    ids = [
        emulator.enqueue_operation("inventory", "v1", operation="create", resource_type="item")
        for _ in range(3)
    ]
    seen: list[httpx.Request] = []
    fake = fake_inventory(seen)
    with propagate.app.overriding(httpx.AsyncClient, fake):
        async with (
            emulator.serve(),
            emulator.client() as client,
            Runner(propagate.app, client, hooks=[propagate.Propagate()], **FAST),
        ):
            await emulator.wait_for_reports_async(3)
            # Outside a task, the same client sends no task's headers.
            outside = await fake.get("/health")
    assert [emulator.reports(task_id)[0]["status"] for task_id in ids] == ["ok"] * 3
    posts = [request for request in seen if request.method == "POST"]
    assert sorted(request.headers["X-Request-Id"] for request in posts) == sorted(ids)
    for request in posts:
        assert request.headers["X-Project-Id"]
    assert "X-Request-Id" not in outside.request.headers


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_the_task_headers_reach_the_handlers_own_client(
    backend: tuple[str, dict[str, Any]],
) -> None:
    run_on(backend, headers_reach_the_handlers_client)
