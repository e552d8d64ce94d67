"""A handler's traceback in the log shows the handler's frames, not the SDK's plumbing."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.testing import ainvoke


class Props(BaseModel):
    name: str = "x"


def failing_app() -> tempest.App:
    app = tempest.App("shop", "v1")
    thing = app.resource("thing", description="d", properties=Props)

    def lookup() -> None:
        raise ValueError("the backend said no")

    @thing.create
    async def create() -> tempest.Resource:
        lookup()
        return tempest.Resource()

    return app


def logged_traceback(caplog: pytest.LogCaptureFixture) -> str:
    """The traceback of the one failure record: with the record's exception (a JSON
    log writes it as `exception`), never in its message."""
    [record] = [r for r in caplog.records if r.exc_text]
    assert "Traceback" not in record.getMessage()
    assert record.exc_text is not None
    assert record.exc_text in caplog.text  # what a text formatter writes
    return record.exc_text


async def test_only_the_handlers_frames_are_shown_by_default(caplog, monkeypatch) -> None:
    monkeypatch.delenv("TEMPEST_FULL_TRACEBACKS", raising=False)
    await ainvoke(failing_app(), "thing", "create")
    text = logged_traceback(caplog)
    assert "in create" in text and "in lookup" in text
    assert "ValueError: the backend said no" in text
    files = [line for line in text.splitlines() if line.lstrip().startswith('File "')]
    assert files and all("test_tracebacks.py" in line for line in files), files
    assert "frame(s) of tempest_sdk, anyio, asyncio and contextlib left out" in text


async def test_the_whole_traceback_on_request(caplog, monkeypatch) -> None:
    monkeypatch.setenv("TEMPEST_FULL_TRACEBACKS", "1")
    caplog.set_level(logging.ERROR)
    await ainvoke(failing_app(), "thing", "create")
    text = logged_traceback(caplog)
    files = [line for line in text.splitlines() if line.lstrip().startswith('File "')]
    assert any("tempest_sdk" in line for line in files) and "in lookup" in text
    assert "left out" not in text


async def test_the_failure_is_one_record_with_the_tasks_fields(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="tempest_sdk")
    await ainvoke(failing_app(), "thing", "create")
    records = [r for r in caplog.records if r.name == "tempest_sdk.app"]
    [record] = [r for r in records if "failed" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "create of 'thing' failed: ValueError: the backend said no" in record.getMessage()
    fields = {k: getattr(record, k, None) for k in ("app_id", "resource_type", "operation")}
    assert fields == {
        "app_id": failing_app().app_id,
        "resource_type": "thing",
        "operation": "create",
    }
    assert record.app_version and record.task_id  # type: ignore[attr-defined]
    assert not hasattr(record, "action")  # an operation's record names no action
