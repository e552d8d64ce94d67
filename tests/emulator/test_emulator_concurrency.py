"""Several clients pulling the same queue at once: no task lost, none handed out twice."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter

import anyio

from tempest_sdk.emulator import Emulator
from tempest_sdk.models import ListResourcesResponse, TaskReport

from .conftest import APP, VERSION, fast_client

TASKS = 240


def _enqueue(emulator: Emulator) -> list[str]:
    return [emulator.enqueue_list(APP, VERSION, "example") for _ in range(TASKS)]


def _check(emulator: Emulator, enqueued: list[str], delivered: list[str]) -> None:
    assert Counter(delivered) == Counter(enqueued)  # each exactly once
    assert sorted(emulator.reported()) == sorted(enqueued)
    assert emulator.queued() == emulator.leased() == []
    assert emulator.duplicate_reports == 0
    assert all(emulator.deliveries(t) == 1 for t in enqueued)
    assert not emulator.violations


async def test_async_clients_share_a_queue_over_sockets(emulator):
    enqueued = _enqueue(emulator)
    delivered: list[str] = []

    async def drain(client) -> None:
        while (task := await client.next_task(APP, VERSION)) is not None:
            delivered.append(task.task_id)
            await client.report(TaskReport.ok(task.task_id, ListResourcesResponse(resources=[])))

    with emulator.serve_in_thread():
        clients = [fast_client(emulator) for _ in range(4)]
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for client in clients:
                    for _ in range(3):  # concurrent callers per client
                        tg.start_soon(drain, client)
        for client in clients:
            await client.aclose()

    _check(emulator, enqueued, delivered)


def test_threads_share_a_queue_in_process(emulator):
    enqueued = _enqueue(emulator)
    delivered: list[str] = []
    lock = threading.Lock()

    def drain() -> None:
        with emulator.sync_client() as client:
            while (task := client.next_task(APP, VERSION)) is not None:
                with lock:
                    delivered.append(task.task_id)
                client.report(TaskReport.ok(task.task_id, ListResourcesResponse(resources=[])))

    threads = [threading.Thread(target=drain) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(t.is_alive() for t in threads)
    _check(emulator, enqueued, delivered)


def test_many_connections_at_once(emulator):
    # 64 clients connecting together must not be reset by a short listen backlog. Plain
    # http.client connections: 64 httpx clients would mostly measure their own setup.
    enqueued = _enqueue(emulator)
    delivered: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(64)
    headers = {"authorization": f"Bearer {emulator.token}", "content-type": "application/json"}
    pull = json.dumps({"app_id": APP, "version": VERSION})

    def drain(port: int) -> None:
        start.wait(timeout=10)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while True:
                conn.request("POST", "/api/v1/apps.operations.next", pull, headers)
                answer = conn.getresponse()
                body = answer.read()
                if answer.status == 204:
                    return
                task_id = json.loads(body)["task_id"]
                with lock:
                    delivered.append(task_id)
                report = TaskReport.ok(task_id, ListResourcesResponse(resources=[])).to_json()
                conn.request("POST", "/api/v1/apps.operations.report", report, headers)
                assert conn.getresponse().read()
        finally:
            conn.close()

    with emulator.serve_in_thread():
        port = int(emulator.url.split(":")[2].split("/")[0])
        threads = [threading.Thread(target=drain, args=(port,)) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert not any(t.is_alive() for t in threads)
    _check(emulator, enqueued, delivered)
