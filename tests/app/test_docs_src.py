"""The samples of docs/writing-apps.md and docs/lifespan.md: real files, shown verbatim."""

from __future__ import annotations

import importlib
import re
import sys

import pytest

import tempest_sdk as tempest
from tempest_sdk._limits import Limits

from .conftest import ROOT, action_task, assert_report, list_task, operation_task

# docs/lifespan.md took the lifespan's section (and its sample) out of writing-apps.md.
GUIDES = [ROOT / "docs" / "writing-apps.md", ROOT / "docs" / "lifespan.md"]
BLOCK = re.compile(
    r'<!-- (docs_src/[\w/]+\.py) -->\n```python(?: title="[\w.]+")?\n(.*?)```\n', re.S
)


def test_the_guide_shows_each_file_verbatim() -> None:
    blocks = [block for guide in GUIDES for block in BLOCK.findall(guide.read_text("utf-8"))]
    assert len(blocks) == 3
    for path, code in blocks:
        assert (ROOT / path).read_text("utf-8") == code, f"{path} differs from the guide"


def load(name: str) -> tempest.App:
    module = importlib.reload(importlib.import_module(f"docs_src.writing_apps.{name}"))
    return module.app  # type: ignore[no-any-return]


async def test_the_grown_greetings_app() -> None:
    """docs/writing-apps.md: the running example with every kind of handler."""
    assert '--8<-- "docs_src/writing_apps/app.py"' in GUIDES[0].read_text("utf-8")
    app = load("app")
    health = await app.check_health()
    assert health is not None
    assert health.health_reports[0].status == "degraded"
    for name in ("Ada", "Grace", "Alan"):
        assert_report(
            await app.dispatch(operation_task("create", type="greeting", input={"name": name}))
        )
    again = assert_report(
        await app.dispatch(operation_task("create", type="greeting", input={"name": "Ada"}))
    )
    # The message the page quotes, as a report carries it.
    assert again["message"] == "create of 'greeting' failed: conflict: Ada has a greeting"
    page = assert_report(await app.dispatch(list_task(type="greeting")))
    assert page["response"]["next"] == "2"
    last = assert_report(await app.dispatch(list_task(type="greeting", next="2")))
    assert [r["display_name"] for r in last["response"]["resources"]] == ["Hello, Alan!"]
    assert last["response"]["next"] == ""
    renamed = assert_report(
        await app.dispatch(
            operation_task(
                "update", type="greeting", external_id="greeting-1", input={"name": "Ida"}
            )
        )
    )
    assert renamed["response"]["resource"]["display_name"] == "Hello, Ida!"
    sent = assert_report(
        await app.dispatch(action_task("send", type="greeting", external_id="greeting-2"))
    )
    assert sent["response"]["output"] == {"message": "Hello, Grace! (by email)"}
    health = await app.check_health()
    assert health is not None
    assert health.health_reports[0].status == "healthy"


async def test_raw_schemas() -> None:
    app = load("raw_schemas")
    created = assert_report(
        await app.dispatch(operation_task("create", type="bucket", input={"name": "logs"}))
    )
    assert created["response"]["resource"]["properties"] == {"name": "logs", "region": "eu"}
    bad = assert_report(
        await app.dispatch(operation_task("create", type="bucket", input={"name": "Logs!"}))
    )
    assert (
        bad["message"]
        == "invalid input for create of 'bucket': name: must match the pattern '^[a-z0-9-]+$'"
    )


@pytest.mark.parametrize(
    ("service", "token", "expected"),
    [
        ("api", "valid-token", None),
        (
            "-api",
            "valid-token",
            "create of 'deployment' failed: invalid input: service '-api' cannot start with a dash",
        ),
        (
            "api",
            "stolen",
            "create of 'deployment' failed: PermissionError: token ********** was refused",
        ),
    ],
)
async def test_context_and_errors(service: str, token: str, expected: str | None) -> None:
    app = load("context_and_errors")
    env = [
        {"name": "REGION", "value": "us-east-2", "type": "variable"},
        {"name": "DEPLOY_TOKEN", "value": token, "type": "secret"},
    ]
    report = assert_report(
        await app.dispatch(
            operation_task("create", type="deployment", input={"service": service}, env=env)
        )
    )
    if expected is None:
        assert report["response"]["resource"]["external_id"] == "api-us-east-2"
    else:
        assert report["message"] == expected


async def test_limits() -> None:
    app = load("limits")
    deployment = app.definition.types["deployment"]
    assert deployment.limits == Limits(max_concurrency=2, rate=tempest.Rate(5, per=1.0))
    assert deployment.actions["rollback"].limits == Limits(1, tempest.Rate(10, per=3600))
    # `dispatch` runs a task at once: only the runner applies limits.
    created = assert_report(
        await app.dispatch(operation_task("create", type="deployment", input={"service": "api"}))
    )
    assert created["response"]["resource"]["external_id"] == "api"
    rolled = assert_report(
        await app.dispatch(action_task("rollback", type="deployment", external_id="api"))
    )
    assert rolled["response"]["output"] == {"release": "api@previous"}


def test_lifespan_parts_sample_swaps_the_temps_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/lifespan.md: a read taking two parts, tested with one part swapped."""
    for name in ("lifespan_parts", "test_lifespan_parts", "fixtures_overriding"):
        sys.modules.pop(f"docs_src.writing_apps.{name}", None)
    importlib.reload(importlib.import_module("docs_src.writing_apps.lifespan"))
    sample = importlib.import_module("docs_src.writing_apps.test_lifespan_parts")
    sample.test_read_with_a_fake_temps(monkeypatch)
