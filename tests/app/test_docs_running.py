"""The FastAPI recipe of docs/runner.md is a real file, shown verbatim, and its app works.

tests/integration/test_uvicorn.py serves the recipe with a real uvicorn process."""

from __future__ import annotations

import importlib
import re

from fastapi import FastAPI

import tempest_sdk as tempest

from .conftest import ROOT, action_task, assert_report, operation_task

GUIDE = ROOT / "docs" / "runner.md"
BLOCK = re.compile(
    r'<!-- (docs_src/[\w/]+\.py) -->\n```python(?: title="[\w.]+")?\n(.*?)```\n', re.S
)


def test_the_runner_guide_shows_the_fastapi_recipe_verbatim() -> None:
    text = GUIDE.read_text("utf-8")
    blocks = BLOCK.findall(text)
    assert [path for path, _ in blocks] == ["docs_src/running/fastapi_service.py"]
    for path, code in blocks:
        assert (ROOT / path).read_text("utf-8") == code, f"{path} differs from the guide"
    assert "uvicorn docs_src.running.fastapi_service:api " in text


def test_the_recipe_module_is_what_the_uvicorn_command_names() -> None:
    service = importlib.import_module("docs_src.running.fastapi_service")
    assert isinstance(service.api, FastAPI)
    assert service.api.url_path_for("ready") == "/ready"
    assert service.tempest_app is importlib.import_module("docs_src.running.tempest_app").app


async def test_the_served_app_creates_and_pauses() -> None:
    app: tempest.App = importlib.import_module("docs_src.running.tempest_app").app
    assert (app.app_id, app.version) == ("greetings", "v1")
    created = assert_report(
        await app.dispatch(operation_task("create", type="greeting", input={"name": "Ada"}))
    )
    resource = created["response"]["resource"]
    assert resource["external_id"] == "greeting-ada"
    assert resource["properties"] == {"text": "Hello, Ada!"}
    paused = assert_report(
        await app.dispatch(
            action_task("pause", type="greeting", external_id="greeting-ada", input={"seconds": 0})
        )
    )
    assert paused["response"]["output"] == {"seconds": 0}
    too_long = assert_report(
        await app.dispatch(
            action_task("pause", type="greeting", external_id="greeting-ada", input={"seconds": 61})
        )
    )
    assert too_long["status"] == "error"
    assert "seconds" in too_long["message"]
