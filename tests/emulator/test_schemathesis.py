"""Schemathesis, run on a real emulator on 127.0.0.1 with its own OpenAPI document, finds nothing.

Every phase (examples, coverage, fuzzing, stateful) and every check, with a bounded
number of examples and deterministic generation, so the run is the same each time.
The document is the one the emulator serves at `GET {base_path}/openapi.json`, built
from the SDK's own models (`tempest_sdk/emulator/_openapi.py`), so the run needs
nothing beside the repository; `test_openapi_contract.py` holds that document to the
Tempest contract wherever the contract is available. The test adds to it only request
examples naming what the test enqueued and seeded, so that `next` hands out real
tasks, reports find them and `*.get` find objects, and those answers are checked
against the response schemas too (random ids would only ever meet 204/404).

Where the emulator is rightly stricter than the schema can say, a 400 to schema-valid
data is expected (`POSITIVE_400`); each entry says why.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tempest_sdk.emulator import ENDPOINTS, Emulator, operation_request

# Enough for every phase to reach each endpoint's interesting cases: about 20 s on 2 cores.
MAX_EXAMPLES = 50
APP, VERSION = "schemathesis", "v1"
SEEDED_ID = "obj_seeded"
REPORTED_TASK = "task-reported-by-example"

POSITIVE_400 = {
    "/apps.version.connect": (
        "the control plane's rules on top of the schema: app ids like 'my-app', versions "
        "like 'v1', unique type and action names, flat properties schemas"
    ),
    "/apps.operations.report": (
        "a report's response_type must match its task's kind, and status 'ok' needs a "
        "response: the schema cannot tie a report to its task"
    ),
    "/resources.list": "a `next` cursor must be one this emulator handed out",
    "/projects.list": "a `next` cursor must be one this emulator handed out",
    "/recipes.list": "a `next` cursor must be one this emulator handed out",
}


def served_document(emulator: Emulator) -> dict[str, Any]:
    """The emulator's own OpenAPI document, as it serves it, with the examples added."""
    answer = httpx.get(f"{emulator.url}/openapi.json", timeout=10)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    examples = {
        "/apps.operations.next": {"app_id": APP, "version": VERSION},
        "/apps.operations.report": {
            "task_id": REPORTED_TASK,
            "status": "ok",
            "message": "done",
            "response": {
                "response_type": "execute_resource_operation",
                "resource": {"type": "example", "external_id": "ex-1", "display_name": "Ex 1"},
            },
        },
        "/resources.get": {"id": SEEDED_ID},
        "/projects.get": {"id": SEEDED_ID},
        "/recipes.get": {"id": SEEDED_ID},
    }
    for path, example in examples.items():
        media = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        media["example"] = example
    return document


def config_toml() -> str:
    lines = []
    for path in POSITIVE_400:
        lines += [
            "[[operations]]",
            f'include-path = "{path}"',
            'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404"]',
            "",
        ]
    return "\n".join(lines)


def prepared_emulator() -> Emulator:
    """An emulator holding the tasks and objects the examples name."""
    emulator = Emulator(token="schemathesis-token", seed=15)
    emulator.enqueue(APP, VERSION, operation_request("example", "create"), task_id=REPORTED_TASK)
    for index in range(40):
        emulator.enqueue_operation(APP, VERSION, "example", "read", external_id=f"ex-{index}")
        emulator.enqueue_action(APP, VERSION, "example", "rebuild", external_id=f"ex-{index}")
        emulator.enqueue_list(APP, VERSION, "example")
    emulator.add_resource(
        {"id": SEEDED_ID, "type": "example", "external_id": "ex-1", "display_name": "Ex 1"}
    )
    emulator.add_project(
        {"id": SEEDED_ID, "name": "seeded", "organization_id": "org_1", "type": "service"}
    )
    emulator.add_recipe({"id": SEEDED_ID, "name": "seeded", "type": "service"})
    return emulator


def run_schemathesis(emulator: Emulator, workdir: Path) -> subprocess.CompletedProcess[str]:
    schema = workdir / "openapi.json"
    schema.write_text(json.dumps(served_document(emulator)), "utf-8")
    config = workdir / "schemathesis.toml"
    config.write_text(config_toml(), "utf-8")
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", str(schema),
        "--url", emulator.url,
        "--header", f"Authorization: Bearer {emulator.token}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers", "1",
        "--no-color",
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_schemathesis_finds_nothing(tmp_path, caplog):
    # Thousands of rejected requests each log a warning: keep a failure's output readable.
    caplog.set_level(logging.ERROR, logger="tempest_sdk.emulator")
    emulator = prepared_emulator()
    with emulator.serve_in_thread():
        result = run_schemathesis(emulator, tmp_path)

    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    counts: Counter[tuple[str, int]] = emulator.request_counts
    # Every endpoint was reached, and the interesting answers were all given.
    reached = {endpoint for endpoint, _ in counts}
    assert set(ENDPOINTS) <= reached, report
    assert counts[("apps.operations.next", 200)] > 0, "no task was handed out"
    assert counts[("apps.operations.report", 200)] > 0, "no report was accepted"
    for endpoint in ("resources.get", "projects.get", "recipes.get"):
        assert counts[(endpoint, 200)] > 0, f"{endpoint} never found the seeded object"
    assert any(status == 405 for _, status in counts), "no unsupported method was tried"
    assert any(status == 401 for _, status in counts), "no request went without the token"
    assert emulator.violations, "no schema-violating request was rejected"
    assert emulator.reports(REPORTED_TASK)[0]["status"] == "ok"
    assert "schemathesis-token" not in result.stdout + result.stderr
