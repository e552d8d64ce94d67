"""CPU per task of a saturated runner against a bare `http.client` loop, in one process.

Both drive the same lean server (`_lean_server.py`, its own process, no latency), so
the figures are the CPU-seconds of this process alone (`getrusage`: every thread):

- the runner: a no-op async handler, concurrency 64, the SDK's client; CPU-seconds over
  `tasks` acknowledged reports once it is busy;
- the bare loop: 4 threads, each with one keep-alive `http.client` connection, posting
  `next`, reading the task id out of the answer with `json.loads`, and posting a
  minimal `report`: the least a client can do per task;
- for context, the same loop on the SDK's transport alone (an `httpx.Request` handed
  straight to httpx-aiohttp's transport, as the SDK's client does; 16 concurrent
  callers on the event loop), with no SDK code at all; and on aiohttp alone, without
  httpx, the layer httpx-aiohttp drives.

Used by `bench_range.py` (section 4); run alone: python benchmarks/_cpu_per_task.py
"""

from __future__ import annotations

import http.client
import json
import resource
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from _lean_server import LeanServer
from bench_runner import bench_app

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner, RunnerOptions
from tempest_sdk.runner._config import pool_keywords

__all__ = [
    "CpuFigures",
    "aiohttp_loop_cpu",
    "bare_loop_cpu",
    "cpu_seconds",
    "runner_cpu",
    "transport_loop_cpu",
]

BARE_THREADS = 4
TRANSPORT_CALLERS = 16
RUNNER_CONCURRENCY = 64


def cpu_seconds() -> float:
    """User + system CPU-seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuFigures:
    pairs: int
    cpu: float  # CPU-seconds of this process over them
    wall: float

    @property
    def per_pair_ms(self) -> float:
        return self.cpu / self.pairs * 1000

    @property
    def per_cpu_second(self) -> float:
        return self.pairs / self.cpu


def bare_loop_cpu(server: LeanServer, version: str, pairs: int) -> CpuFigures:
    """`pairs` next+report pairs over `BARE_THREADS` threads of `http.client`."""
    server.set_latency(0.0)
    server.enqueue(version, pairs + 200)
    url = urlsplit(server.url)
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    next_body = json.dumps({"app_id": "bench", "version": version}).encode()
    each = pairs // BARE_THREADS

    def loop(count: int) -> None:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        try:
            for _ in range(count):
                conn.request("POST", f"{url.path}/apps.operations.next", next_body, headers)
                answer = conn.getresponse()
                data = answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"next answered {answer.status}")
                task_id = json.loads(data)["task_id"]
                report = _report_body(task_id)
                conn.request("POST", f"{url.path}/apps.operations.report", report, headers)
                answer = conn.getresponse()
                answer.read()
        finally:
            conn.close()

    loop(50)  # warm-up: connection, imports, caches
    threads = [threading.Thread(target=loop, args=(each,)) for _ in range(BARE_THREADS)]
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return CpuFigures(each * BARE_THREADS, cpu_seconds() - cpu0, time.perf_counter() - wall0)


def _report_body(task_id: str) -> bytes:
    return json.dumps(
        {
            "task_id": task_id,
            "status": "ok",
            "response": {"response_type": "execute_resource_action", "output": {}},
        }
    ).encode()


async def _callers_cpu(
    post: Callable[[Any, bytes], Awaitable[bytes]],
    next_url: Any,
    report_url: Any,
    next_body: bytes,
    pairs: int,
) -> CpuFigures:
    """CPU of `pairs` next+report pairs by `TRANSPORT_CALLERS` concurrent callers of
    `post(url, body) -> answer`, after a warm-up of 50."""

    async def loop(count: int) -> None:
        for _ in range(count):
            task_id = json.loads(await post(next_url, next_body))["task_id"]
            await post(report_url, _report_body(task_id))

    await loop(50)
    each = pairs // TRANSPORT_CALLERS
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(TRANSPORT_CALLERS):
            group.start_soon(loop, each)
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    return CpuFigures(each * TRANSPORT_CALLERS, cpu, wall)


async def transport_loop_cpu(server: LeanServer, version: str, pairs: int) -> CpuFigures:
    """`pairs` next+report pairs straight to httpx-aiohttp's transport, as the SDK's
    client sends (an `httpx.Request` built per call, its body read whole), no SDK code."""
    from httpx_aiohttp import AiohttpTransport

    server.set_latency(0.0)
    server.enqueue(version, pairs + 200)
    headers = httpx.Headers(
        {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    )
    next_body = json.dumps({"app_id": "bench", "version": version}).encode()
    async with AiohttpTransport() as transport:

        async def post(url: httpx.URL, body: bytes) -> bytes:
            request = httpx.Request("POST", url, headers=headers, content=body)
            response = await transport.handle_async_request(request)
            try:
                return await response.aread()
            finally:
                await response.aclose()

        return await _callers_cpu(
            post,
            httpx.URL(f"{server.url}/apps.operations.next"),
            httpx.URL(f"{server.url}/apps.operations.report"),
            next_body,
            pairs,
        )


async def aiohttp_loop_cpu(server: LeanServer, version: str, pairs: int) -> CpuFigures:
    """`pairs` next+report pairs on an `aiohttp.ClientSession` alone, no httpx: what the
    HTTP layer under httpx-aiohttp costs by itself (16 concurrent callers)."""
    import aiohttp

    server.set_latency(0.0)
    server.enqueue(version, pairs + 200)
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    next_body = json.dumps({"app_id": "bench", "version": version}).encode()
    async with aiohttp.ClientSession(headers=headers) as session:

        async def post(url: str, body: bytes) -> bytes:
            async with session.post(url, data=body) as response:
                return await response.read()

        return await _callers_cpu(
            post,
            f"{server.url}/apps.operations.next",
            f"{server.url}/apps.operations.report",
            next_body,
            pairs,
        )


async def _delivered(runner: Runner, count: int) -> None:
    """Until the runner has delivered `count` reports (polled: the figure is the CPU of
    the whole process, this wait included, at 500 cheap wake-ups a second)."""
    while True:
        if runner.delivered >= count:
            return
        await anyio.sleep(0.002)


async def runner_cpu(server: LeanServer, version: str, tasks: int) -> CpuFigures:
    """CPU of a saturated runner (no-op handler) over `tasks` acknowledged reports."""
    options = RunnerOptions(
        concurrency=RUNNER_CONCURRENCY, health_interval=3600.0, blocked_loop_warning=None
    )
    warmup = 500
    server.set_latency(0.0)
    server.enqueue(version, tasks + warmup + 2 * RUNNER_CONCURRENCY)
    pool = pool_keywords(options, 1, environ={})
    async with AsyncTempestClient(server.token, endpoint=server.url, **pool) as client:
        runner = Runner(bench_app(version, 0.0), client, options=options)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            with anyio.fail_after(60):
                await runner.ready()
            with anyio.fail_after(60):
                await _delivered(runner, warmup)
            at, cpu0, wall0 = runner.delivered, cpu_seconds(), time.perf_counter()
            with anyio.fail_after(120):
                await _delivered(runner, at + tasks)
            cpu, wall, done = cpu_seconds() - cpu0, time.perf_counter() - wall0, runner.delivered
            with anyio.fail_after(60):
                await runner.shutdown()
    return CpuFigures(done - at, cpu, wall)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="CPU per task: runner vs bare loop")
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--only", choices=["runner", "bare", "transport", "aiohttp"], default=None)
    args = parser.parse_args()
    server = LeanServer(lifetime=600.0)
    try:
        if args.only in (None, "bare"):
            bare = bare_loop_cpu(server, "v1", args.tasks)
            print(f"bare   {bare.per_pair_ms:.3f} ms/pair  {bare.per_cpu_second:6.0f}/CPU-s")
        if args.only in (None, "transport"):
            loop = anyio.run(transport_loop_cpu, server, "v3", args.tasks)
            print(f"transp {loop.per_pair_ms:.3f} ms/pair  {loop.per_cpu_second:6.0f}/CPU-s")
        if args.only in (None, "aiohttp"):
            raw = anyio.run(aiohttp_loop_cpu, server, "v4", args.tasks)
            print(f"aiohttp {raw.per_pair_ms:.3f} ms/pair  {raw.per_cpu_second:6.0f}/CPU-s")
        if args.only in (None, "runner"):
            run = anyio.run(runner_cpu, server, "v2", args.tasks)
            print(f"runner {run.per_pair_ms:.3f} ms/task  {run.per_cpu_second:6.0f}/CPU-s")
    finally:
        server.close()


if __name__ == "__main__":
    main()
