"""The whole app through the real runner against the local emulator, with its own
lifespan calling the fake Temps served by uvicorn on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from temps_client import TempsClient

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner, RunnerStartupError
from tempest_sdk.testing import ainvoke, exercise

from ..app import Services, TempsSettings
from .fake_temps import FAKE_TOKEN, FakeTemps

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-served-value-4c2e91"
# The runner's real policies, with short pauses; no health report but the first.
OPTIONS: dict[str, Any] = {
    "poll_interval_min": 0.005,
    "poll_interval_max": 0.05,
    "health_interval": 3600.0,
}


async def run_tasks(app: tempest.App, fake: FakeTemps) -> None:
    """Serve the app with the real runner against an emulator; run a day's work on Temps."""
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(app, client, connect=True, **OPTIONS),
    ):

        async def run(name: str, resource_type: str, **task: Any) -> dict[str, Any]:
            """Enqueue one task, wait for its report (tasks go one at a time), check it."""
            if name == "list":
                task_id = emulator.enqueue_list("temps", "v1", resource_type, **task)
            elif name in ("create", "read", "update", "delete"):
                task_id = emulator.enqueue_operation("temps", "v1", resource_type, name, **task)
            else:
                task_id = emulator.enqueue_action("temps", "v1", resource_type, name, **task)
            await emulator.wait_for_reports_async(len(emulator.reported()) + 1, timeout=30)
            [report] = emulator.reports(task_id)
            assert report["status"] == "ok", report.get("message")
            return dict(report["response"])

        project = await run("create", "project", input={"name": "Checkout"})
        assert project["resource"]["external_id"] == "6"
        listed = await run("list", "project")
        assert [r["external_id"] for r in listed["resources"]] == ["1", "2"]
        assert listed["next"] == "2"
        await run("read", "project", external_id="6")
        pipeline = await run("trigger_pipeline", "project", external_id="6", input={})
        assert pipeline["output"]["branch"] == "main"
        environment = await run("create", "environment", input={"project_id": 6, "name": "staging"})
        assert environment["resource"]["external_id"] == "6/7"
        await run("update_settings", "environment", external_id="6/7", input={"replicas": 2})
        variable = await run(
            "create",
            "environment_variable",
            input={"project_id": 6, "key": "API_KEY", "value": SECRET, "environment_ids": [7]},
        )
        assert "value" not in variable["resource"]["properties"]
        deployments = await run("list", "deployment")
        assert [r["external_id"] for r in deployments["resources"]] == ["1/3", "1/2"]
        await run("pause", "deployment", external_id="1/3")
        await run("resume", "deployment", external_id="1/3")
        await run("read", "deployment", external_id="6/6")
        await run("delete", "environment_variable", external_id="6/4")
        await run("delete", "environment", external_id="6/7")
        await run("delete", "project", external_id="6")

        [health] = await emulator.wait_for_health_reports_async(1, timeout=30)
        assert health["health_reports"] == [
            {"type": "project", "status": "healthy", "message": "Temps answers; 5 projects"}
        ]
        [connect] = emulator.connects
        assert [r["type"] for r in connect["resources"]] == [
            "project",
            "environment",
            "environment_variable",
            "deployment",
        ]
        everything = json.dumps([emulator.reports(t) for t in emulator.reported()])
        assert SECRET not in everything
        assert FAKE_TOKEN not in everything


BACKENDS: dict[str, Callable[[Callable[[], Awaitable[None]]], None]] = {
    "asyncio": lambda scenario: anyio.run(scenario),
    "uvloop": lambda scenario: anyio.run(scenario, backend_options={"use_uvloop": True}),
    "trio": lambda scenario: anyio.run(scenario, backend="trio"),
}


@pytest.mark.usefixtures("served")
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_the_app_serves_a_day_of_work_through_the_runner(
    app: tempest.App, fake: FakeTemps, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    if backend == "uvloop":
        pytest.importorskip("uvloop")
    caplog.set_level("DEBUG")
    BACKENDS[backend](lambda: run_tasks(app, fake))
    # What the run created is gone, and the seeded deployment it paused runs again.
    assert fake.seeded_rows_unchanged()
    assert fake.created_rows() == {name: [] for name in fake.tables}
    assert any(SECRET.encode() in r.body for r in fake.requests)
    assert SECRET not in caplog.text
    assert FAKE_TOKEN not in caplog.text


@pytest.mark.usefixtures("served")
async def test_exercise_changes_nothing_it_did_not_create(
    app: tempest.App, fake: FakeTemps
) -> None:
    results = await exercise(app, step_timeout=30, **OPTIONS)
    summary = {r.step.label: (r.status, r.message) for r in results}
    assert not any(r.failed for r in results), summary
    ran = [label for label, (status, _) in summary.items() if status == "ok"]
    assert ran == [
        "project.create",
        "project.list",
        "project.read",
        "project.update",
        "project.trigger_pipeline",
        "project.delete",
        "environment.create",
        "environment.list",
        "environment.read",
        "environment.update_settings",
        "environment.delete",
        "environment_variable.create",
        "environment_variable.list",
        "environment_variable.read",
        "environment_variable.update",
        "environment_variable.delete",
        "deployment.list",
        "deployment.read",
    ]
    # Deployments cannot be created: their actions would act on Temps' own, so they are
    # skipped by default.
    skipped = [label for label, (status, _) in summary.items() if status == "skipped"]
    assert skipped == [
        "deployment.rollback",
        "deployment.cancel",
        "deployment.pause",
        "deployment.resume",
    ]
    assert fake.seeded_rows_unchanged()
    assert fake.created_rows() == {name: [] for name in fake.tables}
    changed = {
        (r.method, r.path)
        for r in fake.requests
        if r.method != "GET" and not r.path.startswith("/api/projects/6")
    }
    # In seeded projects, it changed only what it added (and removed that again).
    assert changed == {
        ("POST", "/api/projects"),
        ("POST", "/api/projects/1/environments"),
        ("DELETE", "/api/projects/1/environments/7"),
        ("POST", "/api/projects/1/env-vars"),
        ("PUT", "/api/projects/1/env-vars/4"),
        ("DELETE", "/api/projects/1/env-vars/4"),
    }


def test_the_cli_serves_the_app_file(served: str, fake: FakeTemps) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tempest_sdk",
            "serve",
            str(EXAMPLE / "app.py"),
            "--emulator",
            "--json",
            "--health-interval",
            "3600",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TEMPS_URL": served, "TEMPS_TOKEN": FAKE_TOKEN},
        cwd=EXAMPLE.parent.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = [step["status"] for step in json.loads(result.stdout)]
    assert statuses.count("ok") == 18
    assert fake.seeded_rows_unchanged()
    assert fake.created_rows() == {name: [] for name in fake.tables}
    assert FAKE_TOKEN not in result.stdout + result.stderr


def test_missing_settings_stop_the_runner_saying_what_to_set(
    app: tempest.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEMPS_URL", raising=False)
    monkeypatch.delenv("TEMPS_TOKEN", raising=False)

    async def start() -> None:
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client, Runner(app, client, **OPTIONS):
            raise AssertionError("the runner started without Temps' settings")

    with pytest.raises(RunnerStartupError) as raised:
        anyio.run(start)
    message = str(raised.value)
    assert "url: Field required; from environment variable TEMPS_URL" in message
    assert "token: Field required; from environment variable TEMPS_TOKEN" in message


def test_the_token_may_come_from_a_mounted_file(tmp_path: Path) -> None:
    (tmp_path / "temps_token").write_text("  token-from-a-kubernetes-secret\n")
    settings = tempest.load_settings(
        TempsSettings, url="http://127.0.0.1:1/api", _secrets_dir=str(tmp_path)
    )
    assert settings.token.get_secret_value() == "token-from-a-kubernetes-secret"
    assert "token-from" not in repr(settings)


@pytest.mark.usefixtures("served")
async def test_the_lifespan_shares_one_client_and_closes_it(app: tempest.App) -> None:
    async with app.serving() as services:
        assert isinstance(services, Services)
        assert isinstance(services.temps, TempsClient)
        http = services.temps.http
        assert str(http.base_url).startswith("http://127.0.0.1:")
        assert not http.is_closed
        again = await ainvoke(app, "project", "read", external_id="1")
        assert again.status == "ok"
        assert app.state.temps.http is http  # the task used the same client
    assert http.is_closed
