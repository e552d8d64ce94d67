"""Limits of resource types and actions: declared with them, checked, frozen; the
runner applies them (tests/runner/test_limits.py), `dispatch` does not."""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk._app._handlers import analyze
from tempest_sdk._limits import NO_LIMITS, Limits
from tempest_sdk.testing import ainvoke


class Props(BaseModel):
    name: str = "x"


def test_type_limits_freeze_into_the_definition() -> None:
    app = tempest.App("shop", "v1")
    app.resource(
        "deployment", properties=Props, max_concurrency=2, rate_limit=tempest.Rate(5, per=1.0)
    )
    app.resource("plain", properties=Props)
    types = app.definition.types
    assert types["deployment"].limits == Limits(max_concurrency=2, rate=tempest.Rate(5, 1.0))
    assert types["plain"].limits is NO_LIMITS
    assert not types["plain"].limits
    with pytest.raises(dataclasses.FrozenInstanceError):
        types["deployment"].limits = NO_LIMITS  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        types["deployment"].limits.max_concurrency = 3  # type: ignore[misc]


def test_a_rate_reads_as_what_it_allows() -> None:
    assert tempest.Rate(5).interval == 0.2
    assert tempest.Rate(100, per=60).interval == 0.6
    assert str(Limits(2, tempest.Rate(5))) == "max_concurrency=2, rate 5 per 1s"
    assert str(Limits(rate=tempest.Rate(1, per=60, burst=3))) == "rate 1 per 60s, burst 3"
    assert str(NO_LIMITS) == "no limits"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be a whole number of tasks of at least 1"),
        ({"max_concurrency": -1}, "not -1"),
        ({"max_concurrency": True}, "not True"),
        ({"max_concurrency": 1.5}, "not 1.5"),
        ({"rate_limit": "5/s"}, "rate_limit must be a tempest.Rate, e.g. tempest.Rate(5, per=1.0)"),
        ({"rate_limit": 5}, "not 5"),
        ({"rate_limit": tempest.Rate(0)}, "lengthen the period: tempest.Rate(1, per=10)"),
        ({"rate_limit": tempest.Rate(1, per=0)}, "per must be a positive number of seconds"),
        ({"rate_limit": tempest.Rate(1, per=float("inf"))}, "not inf"),
        ({"rate_limit": tempest.Rate(1, burst=0)}, "burst must be a whole number"),
    ],
)
def test_invalid_type_limits_name_the_type_and_the_fix(
    arguments: dict[str, Any], problem: str
) -> None:
    app = tempest.App("shop", "v1")
    with pytest.raises(tempest.DefinitionError) as caught:
        app.resource("deployment", properties=Props, **arguments)
    assert caught.value.where == "app.resource('deployment')"
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert "deployment" not in app.resource_types


def test_every_problem_is_listed_at_once() -> None:
    app = tempest.App("shop", "v1")
    with pytest.raises(tempest.DefinitionError) as caught:
        app.resource("deployment", timeout=0, max_concurrency=0, rate_limit=tempest.Rate(0, per=-1))
    assert len(caught.value.problems) == 4
    assert str(caught.value).startswith("app.resource('deployment'): 4 problems:")


def test_limits_cannot_be_declared_once_frozen() -> None:
    app = tempest.App("shop", "v1")
    app.describe()
    with pytest.raises(tempest.DefinitionError, match="the app is frozen"):
        app.resource("late", properties=Props, max_concurrency=1)


def test_action_limits_freeze_with_the_action() -> None:
    app = tempest.App("shop", "v1")
    deployment = app.resource("deployment", properties=Props, max_concurrency=4)

    @deployment.action("rollback", max_concurrency=1, rate_limit=tempest.Rate(1, per=60))
    async def rollback(resource: tempest.Resource) -> None:
        return None

    @deployment.action("ping")
    async def ping(resource: tempest.Resource) -> None:
        return None

    actions = app.definition.types["deployment"].actions
    assert actions["rollback"].limits == Limits(1, tempest.Rate(1, per=60))
    assert actions["ping"].limits is NO_LIMITS
    assert app.definition.types["deployment"].limits == Limits(max_concurrency=4)


def test_invalid_action_limits_name_the_type_and_the_action() -> None:
    app = tempest.App("shop", "v1")
    deployment = app.resource("deployment", properties=Props)

    async def rollback(resource: tempest.Resource) -> None:
        return None

    with pytest.raises(tempest.DefinitionError) as caught:
        deployment.action("rollback", max_concurrency=0, rate_limit=tempest.Rate(1, per=0))(
            rollback
        )
    assert caught.value.where.startswith("resource type 'deployment', action 'rollback' handler")
    assert len(caught.value.problems) == 2
    assert "rollback" not in deployment.actions


def test_operations_take_their_limits_from_the_type() -> None:
    async def read(resource: tempest.Resource) -> tempest.Resource:
        return resource

    with pytest.raises(tempest.DefinitionError) as caught:
        analyze("read", read, owner="resource type 'deployment'", max_concurrency=1,
                resource_type="deployment")  # fmt: skip
    assert caught.value.problems == (
        "max_concurrency= and rate_limit= apply to resource types and actions, not to a read "
        "handler: declare them on app.resource('deployment', ...)",
    )


async def test_dispatch_and_invoke_do_not_apply_limits() -> None:
    """Only the runner holds tasks back: `dispatch` runs what it is given at once."""
    app = tempest.App("shop", "v1")
    deployment = app.resource(
        "deployment", properties=Props, max_concurrency=1, rate_limit=tempest.Rate(1, per=3600)
    )
    inside = 0
    both = anyio.Event()

    @deployment.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        nonlocal inside
        inside += 1
        if inside == 2:
            both.set()
        await both.wait()  # returns only if two reads run at once
        return resource

    reports: list[Any] = []

    async def one(external_id: str) -> None:
        reports.append(await ainvoke(app, "deployment", "read", external_id=external_id))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(one, "a")
            group.start_soon(one, "b")
    assert [report.status for report in reports] == ["ok", "ok"]
