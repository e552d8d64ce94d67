"""Injected faults, as the project's client meets them over a socket and in process."""

from __future__ import annotations

import re

import httpx
import pytest

from tempest_sdk.client import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    InternalServerError,
    RateLimitError,
)
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import (
    ConnectRequest,
    ListResourcesResponse,
    MalformedTaskError,
    TaskReport,
    UnknownTaskTypeError,
)

from .conftest import APP, VERSION


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_answered_then_the_retry_succeeds(make_client, serving, status):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    fault = serving.inject("apps.operations.next", status=status, times=2)

    async with make_client(max_retries=2) as client:
        task = await client.next_task(APP, VERSION)

    assert task is not None
    assert task.task_id == task_id
    assert fault.count == 2
    assert not fault.active
    assert serving.request_counts[("apps.operations.next", status)] == 2
    assert serving.deliveries(task_id) == 1


async def test_500_on_a_read_only_endpoint(make_client, serving):
    fault = serving.inject("projects.list", status=500, message="database on fire")

    async with make_client(max_retries=0) as client:
        with pytest.raises(InternalServerError) as caught:
            await client.list_projects()

    assert caught.value.error == "database on fire"
    assert fault.count == 1


async def test_429_carries_retry_after(make_client, serving):
    fault = serving.inject("apps.operations.next", status=429, retry_after=0.01, times=1)

    async with make_client(max_retries=0) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.next_task(APP, VERSION)
        assert await client.next_task(APP, VERSION) is None

    assert caught.value.retry_after == pytest.approx(0.01)
    assert caught.value.error == "injected fault: 429 Too Many Requests"
    assert fault.count == 1


async def test_429_is_retried_after_the_asked_delay(make_client, serving):
    serving.inject("apps.operations.next", status=429, retry_after=0.01, times=3)

    async with make_client(max_retries=3) as client:
        assert await client.next_task(APP, VERSION) is None

    assert serving.request_counts[("apps.operations.next", 429)] == 3
    assert serving.request_counts[("apps.operations.next", 204)] == 1


async def test_injected_401_is_an_authentication_error(make_client, serving):
    fault = serving.inject("apps.version.connect", status=401)

    async with make_client() as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.connect_app_version(
                ConnectRequest(app_id=APP, version=VERSION, resources=[])
            )

    assert caught.value.attempts == 1  # a rejected token is not retried
    assert fault.count == 1
    assert serving.connects == []


async def test_latency_beyond_the_timeout_is_a_timeout(make_client, serving):
    serving.enqueue_list(APP, VERSION, "example")
    fault = serving.inject("apps.operations.next", latency=0.3, times=1)

    async with make_client(max_retries=0, timeout=0.05) as client:
        with pytest.raises(APITimeoutError):
            await client.next_task(APP, VERSION)

    assert fault.count == 1
    # The server did the work: the task was handed out, the answer came too late.
    assert serving.queued() == []
    assert len(serving.leased()) == 1


async def test_latency_within_the_timeout_only_delays(make_client, serving):
    fault = serving.inject("apps.operations.next", latency=0.02)

    async with make_client(max_retries=0) as client:
        assert await client.next_task(APP, VERSION) is None
        assert await client.next_task(APP, VERSION) is None

    assert fault.count == 2


async def test_a_dropped_request_is_a_connection_error_and_is_lost(make_client, serving):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    fault = serving.inject("apps.operations.next", drop=True, times=1)

    async with make_client(max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.next_task(APP, VERSION)
        task = await client.next_task(APP, VERSION)

    assert not isinstance(caught.value, APITimeoutError)
    assert fault.count == 1
    assert task is not None
    assert task.task_id == task_id
    assert serving.deliveries(task_id) == 1  # the dropped request never reached the queue
    assert serving.request_counts[("apps.operations.next", 0)] == 1


async def test_a_dropped_report_is_retried_and_recorded_once(make_client, serving):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    fault = serving.inject("apps.operations.report", drop=True, times=2)

    async with make_client(max_retries=3) as client:
        await client.next_task(APP, VERSION)
        await client.report(TaskReport.ok(task_id, ListResourcesResponse(resources=[])))

    assert fault.count == 2
    assert len(serving.reports(task_id)) == 1
    assert serving.duplicate_reports == 0


async def test_an_answer_dropped_after_the_report_makes_a_duplicate(make_client, serving):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    serving.inject("apps.operations.report", drop="after", times=1)

    async with make_client(max_retries=1) as client:
        await client.next_task(APP, VERSION)
        await client.report(TaskReport.ok(task_id, ListResourcesResponse(resources=[])))

    assert len(serving.reports(task_id)) == 2
    assert serving.duplicate_reports == 1
    assert serving.reported() == [task_id]


async def test_malformed_bad_json_loses_the_task_until_its_lease_ends(make_client, serving, clock):
    task_id = serving.enqueue_list(APP, VERSION, "example")
    fault = serving.inject("apps.operations.next", malformed="bad_json", times=1)

    async with make_client(max_retries=0) as client:
        with pytest.raises(MalformedTaskError) as caught:
            await client.next_task(APP, VERSION)
        assert caught.value.task_id is None
        assert await client.next_task(APP, VERSION) is None
        clock.advance(serving.lease_timeout)
        again = await client.next_task(APP, VERSION)

    assert fault.count == 1
    assert again is not None
    assert again.task_id == task_id
    assert serving.deliveries(task_id) == 2


async def test_malformed_unknown_request_type_keeps_the_task_id(make_client, serving):
    task_id = serving.enqueue_operation(APP, VERSION, "example", "create")
    serving.inject("apps.operations.next", malformed="unknown_request_type")

    async with make_client(max_retries=0) as client:
        with pytest.raises(UnknownTaskTypeError) as caught:
            await client.next_task(APP, VERSION)
        await client.report(TaskReport.error(task_id, "unknown task type"))

    assert caught.value.task_id == task_id
    assert caught.value.request_type == "execute_resource_import"
    assert serving.reported() == [task_id]


async def test_malformed_missing_fields_keeps_the_task_id(make_client, serving):
    task_id = serving.enqueue_action(APP, VERSION, "example", "rebuild", external_id="e")
    serving.inject("apps.operations.next", malformed="missing_fields")

    async with make_client(max_retries=0) as client:
        with pytest.raises(MalformedTaskError) as caught:
            await client.next_task(APP, VERSION)

    assert type(caught.value) is MalformedTaskError
    assert caught.value.task_id == task_id
    assert "metadata" in str(caught.value)


async def test_a_malformed_fault_waits_for_a_task(make_client, serving):
    fault = serving.inject("apps.operations.next", malformed="bad_json", times=1)

    async with make_client(max_retries=0) as client:
        assert await client.next_task(APP, VERSION) is None
        serving.enqueue_list(APP, VERSION, "example")
        with pytest.raises(MalformedTaskError):
            await client.next_task(APP, VERSION)

    assert fault.count == 1


def test_probability_is_reproducible_with_a_seed():
    def statuses(seed: int) -> list[int]:
        emulator = Emulator(seed=seed)
        emulator.inject("apps.operations.next", status=503, probability=0.5)
        return [_next_status(emulator) for _ in range(40)]

    first, second = statuses(3), statuses(3)

    assert first == second
    assert 5 < first.count(503) < 35
    assert set(first) == {204, 503}


def test_the_first_matching_fault_applies_and_clear_removes_them(emulator):
    every = emulator.inject("*", status=503, times=1)
    specific = emulator.inject("apps.operations.next", status=500)
    other = emulator.inject("apps.versions.health", status=500)

    codes = [_next_status(emulator) for _ in range(3)]
    emulator.clear_faults("apps.operations.next")
    after_clear = _next_status(emulator)
    remaining = emulator.faults
    emulator.clear_faults()

    assert codes == [503, 500, 500]
    assert (every.count, specific.count, other.count) == (1, 2, 0)
    assert after_clear == 204
    assert remaining == [every, other]
    assert emulator.faults == []
    assert "count=2" in repr(specific)


def _next_status(emulator: Emulator) -> int:
    with httpx.Client(transport=emulator.transport(), base_url=emulator.url) as http:
        return http.post(
            "/apps.operations.next",
            json={"app_id": APP, "version": VERSION},
            headers={"authorization": f"Bearer {emulator.token}"},
        ).status_code


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint": "apps.next", "status": 500}, "unknown endpoint 'apps.next': use one of"),
        ({"endpoint": "apps.operations.next"}, "say what the fault does"),
        ({"endpoint": "apps.operations.next", "status": 200}, "an HTTP error status"),
        (
            {"endpoint": "apps.operations.next", "status": 500, "drop": True},
            "a fault is one of status=, drop= or malformed=",
        ),
        ({"endpoint": "apps.operations.report", "malformed": "bad_json"}, "only applies to"),
        ({"endpoint": "apps.operations.next", "malformed": "garbled"}, "malformed must be one"),
        ({"endpoint": "apps.operations.next", "drop": "later"}, "drop must be True"),
        ({"endpoint": "apps.operations.next", "retry_after": 1.0}, "retry_after goes with"),
        ({"endpoint": "apps.operations.next", "latency": -1}, "latency must be >= 0"),
        ({"endpoint": "*", "status": 500, "probability": 0}, "probability must be in (0, 1]"),
        ({"endpoint": "*", "status": 500, "times": 0}, "times must be >= 1"),
    ],
)
def test_inconsistent_faults_are_refused(emulator, kwargs, message):
    endpoint = kwargs.pop("endpoint")

    with pytest.raises(ValueError, match=re.escape(message)):
        emulator.inject(endpoint, **kwargs)


def test_drops_over_a_real_socket_look_like_a_closed_connection(emulator):
    emulator.inject("apps.operations.next", drop=True, times=1)

    with emulator.serve_in_thread(), httpx.Client(base_url=emulator.url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(
                "/apps.operations.next",
                json={"app_id": APP, "version": VERSION},
                headers={"authorization": f"Bearer {emulator.token}"},
            )
        answer = http.post(
            "/apps.operations.next",
            json={"app_id": APP, "version": VERSION},
            headers={"authorization": f"Bearer {emulator.token}"},
        )

    assert answer.status_code == 204
