"""Throughput, overhead, memory and idle cost of the runner against the emulator.

The emulator serves from a separate process (its own core), so the figures are those
of the runner's process. Every figure is compared with a baseline measured in the
same run, against the same emulator:

- a sequential loop that mimics Tempest's Go CLI (`next` → handler → `report`, one
  task at a time), against the runner at concurrency 1 and 64, with a 50 ms async
  handler (target: runner@64 >= 25x the sequential loop);
- bare loops issuing the same `next`+`report` calls (4 and 8 concurrent callers, no
  parsing beyond the task id), through an httpx client and straight to its transport,
  over httpx-aiohttp and over httpx's own transport, against the runner with a no-op
  handler (target: >= 0.7 of the best bare httpx loop over the transport the SDK's
  client uses in the run; the loop straight to the transport is shown as the ceiling);
- the runner's RSS after 5,000 and 10,000 no-op tasks (target: growth < 5 %);
- requests per second of an idle runner (no tasks), beside the Go CLI's 0.2/s.

    python benchmarks/bench_runner.py                      # every figure (about 3 minutes)
    python benchmarks/bench_runner.py --quick              # fewer tasks, shorter idle window
    python benchmarks/bench_runner.py --loop uvloop        # on uvloop (uvicorn's default loop)
    python benchmarks/bench_runner.py --transport httpx    # the SDK's client over httpx's own
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import multiprocessing.connection
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

import tempest_sdk as tempest
from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.models import ExecuteResourceActionResponse, TaskReport
from tempest_sdk.runner import PollEvent, Runner, RunnerHook

APP = "bench"
BARE_TRANSPORTS = ("aiohttp", "httpx")
TRANSPORT = "default"  # the SDK client's: its default (httpx-aiohttp on asyncio), or "httpx"
LOOP = "asyncio"
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the emulator, in its own process ---------------------------------------------------------


def _emulator_process(conn: multiprocessing.connection.Connection) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    from tempest_sdk.emulator import Emulator

    emulator = Emulator(seed=1, lease_timeout=300.0)
    with emulator.serve_in_thread():
        conn.send((emulator.url, emulator.token))
        while True:
            command, *args = conn.recv()
            if command == "enqueue":
                version, count = args
                for i in range(count):
                    emulator.enqueue_action(APP, version, "thing", "work", external_id=f"t{i}")
                conn.send(count)
            elif command == "requests":
                (version,) = args
                conn.send(sum(emulator.request_counts.values()))
            elif command == "stop":
                conn.send(None)
                return


class EmulatorProcess:
    """Drives the emulator process: enqueue tasks, read request counts."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_emulator_process, args=(child,), daemon=True)
        self._process.start()
        self.url, self.token = self._conn.recv()

    def call(self, *command: Any) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def enqueue(self, version: str, count: int) -> None:
        self.call("enqueue", version, count)

    def close(self) -> None:
        self.call("stop")
        self._process.join(10)


# -- the app ---------------------------------------------------------------------------------


def bench_app(version: str, delay: float) -> tempest.App:
    """One resource type with one async action that sleeps `delay` (0: returns at once)."""
    app = tempest.App(APP, version)
    thing = app.resource("thing", display_name="Thing", description="A benchmark thing.")

    if delay:

        @thing.action("work", display_name="Work", description="Sleep a while.")
        async def work(ctx: tempest.Context, resource: tempest.Resource) -> dict[str, Any]:
            await anyio.sleep(delay)
            return {}

    else:

        @thing.action("work", display_name="Work", description="Return at once.")
        async def work_now(ctx: tempest.Context, resource: tempest.Resource) -> dict[str, Any]:
            return {}

    return app


# -- what is measured ------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PollCounter(RunnerHook):
    """Counts `next` calls (for the idle figure)."""

    def __init__(self) -> None:
        self.polls = 0

    async def on_poll(self, event: PollEvent) -> None:
        self.polls += 1


def make_client(emulator: EmulatorProcess) -> AsyncTempestClient:
    """A client over the transport of this run (`--transport`)."""
    transport = httpx.AsyncHTTPTransport() if TRANSPORT == "httpx" else None
    return AsyncTempestClient(emulator.token, endpoint=emulator.url, transport=transport)


def bare_client(kind: str, **options: Any) -> httpx.AsyncClient:
    """A plain httpx client over httpx-aiohttp ("aiohttp") or httpx's own ("httpx")."""
    if kind == "aiohttp":
        from httpx_aiohttp import HttpxAiohttpClient

        return HttpxAiohttpClient(**options)
    return httpx.AsyncClient(**options)


async def runner_rate(
    emulator: EmulatorProcess,
    version: str,
    tasks: int,
    delay: float,
    samples: tuple[int, ...] = (),
    **options: Any,
) -> tuple[float, dict[int, int]]:
    """Tasks per second of a runner draining `tasks` tasks, timed from ready to the
    last acknowledged report; and its RSS when `samples` reports were acknowledged."""
    emulator.enqueue(version, tasks)
    rss: dict[int, int] = {}
    pending = sorted(samples)
    async with make_client(emulator) as client:
        runner = Runner(
            bench_app(version, delay),
            client,
            health_interval=3600.0,
            blocked_loop_warning=None,
            **options,
        )
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            started = time.perf_counter()
            with anyio.fail_after(600):
                # A counter read every few ms, not a hook: the bare loop has none either.
                while runner.delivered < tasks:
                    while pending and runner.delivered >= pending[0]:
                        rss[pending.pop(0)] = rss_bytes()
                    await anyio.sleep(0.005)
            elapsed = time.perf_counter() - started
            for count in pending:
                rss[count] = rss_bytes()
            await runner.shutdown()
    return tasks / elapsed, rss


async def sequential_rate(
    emulator: EmulatorProcess, version: str, tasks: int, delay: float
) -> float:
    """Tasks per second of a loop like Tempest's Go CLI: one task at a time, 5 s naps."""
    emulator.enqueue(version, tasks)
    app = bench_app(version, delay)
    async with make_client(emulator) as client:
        done = 0
        started = time.perf_counter()
        while done < tasks:
            task = await client.next_task(APP, version)
            if task is None:
                await anyio.sleep(5.0)
                continue
            report = await app.dispatch(task, timeout=300.0)
            await client.report(report)
            done += 1
        return tasks / (time.perf_counter() - started)


async def bare_pairs(
    emulator: EmulatorProcess,
    version: str,
    tasks: int,
    callers: int,
    post: Callable[[str, bytes], Awaitable[httpx.Response]],
) -> float:
    """Pairs per second of `callers` loops of `next`, read the task id, `report` ok,
    each request made by `post(path, body)` (its answer read whole)."""
    emulator.enqueue(version, tasks)
    next_body = json.dumps({"app_id": APP, "version": version}).encode()
    done = 0

    async def caller() -> None:
        nonlocal done
        while True:
            answer = await post("/apps.operations.next", next_body)
            if answer.status_code == 204:
                return
            task_id = json.loads(answer.content)["task_id"]
            report = {
                "task_id": task_id,
                "status": "ok",
                "response": {"response_type": "execute_resource_action", "output": {}},
            }
            answer = await post("/apps.operations.report", json.dumps(report).encode())
            assert answer.status_code == 200, answer.text
            done += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(callers):
            group.start_soon(caller)
    return done / (time.perf_counter() - started)


def bare_headers(emulator: EmulatorProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"}


async def bare_httpx_rate(
    emulator: EmulatorProcess, version: str, tasks: int, callers: int, transport: str
) -> float:
    """Pairs per second of a bare httpx loop over `transport` ("aiohttp" or "httpx")."""
    headers = bare_headers(emulator)
    async with bare_client(transport, base_url=emulator.url, headers=headers, timeout=30) as http:

        async def post(path: str, body: bytes) -> httpx.Response:
            return await http.post(path, content=body)

        return await bare_pairs(emulator, version, tasks, callers, post)


async def bare_transport_rate(
    emulator: EmulatorProcess, version: str, tasks: int, callers: int, kind: str
) -> float:
    """Pairs per second of the same loop sent straight to a transport of `kind`, with no
    httpx client in between: what the SDK's client does when no proxy is configured."""
    headers = bare_headers(emulator)
    timeout = {"timeout": httpx.Timeout(30).as_dict()}
    transport: httpx.AsyncBaseTransport
    if kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport()
    else:
        transport = httpx.AsyncHTTPTransport()

    async def post(path: str, body: bytes) -> httpx.Response:
        request = httpx.Request(
            "POST", emulator.url + path, headers=headers, content=body, extensions=timeout
        )
        response = await transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    async with transport:
        return await bare_pairs(emulator, version, tasks, callers, post)


async def client_rate(emulator: EmulatorProcess, version: str, tasks: int, callers: int) -> float:
    """Pairs per second of a loop over `AsyncTempestClient` alone (models, no runner):
    where the client's share of the gap between bare httpx and the runner shows."""
    emulator.enqueue(version, tasks)
    done = 0
    async with make_client(emulator) as client:

        async def caller() -> None:
            nonlocal done
            while True:
                task = await client.next_task(APP, version, max_retries=0)
                if task is None:
                    return
                output = ExecuteResourceActionResponse(output={})
                await client.report(TaskReport.ok(task.task_id, output), max_retries=0)
                done += 1

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(callers):
                group.start_soon(caller)
        elapsed = time.perf_counter() - started
    return done / elapsed


async def idle_rate(
    emulator: EmulatorProcess, version: str, seconds: float, warmup: float
) -> tuple[float, float]:
    """Requests per second of a runner with nothing to do: over the whole window from
    start, and in the steady state after `warmup` seconds."""
    hook = PollCounter()
    async with make_client(emulator) as client:
        runner = Runner(bench_app(version, 0.0), client, hooks=[hook], blocked_loop_warning=None)
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await runner.ready()
            started = time.perf_counter()
            await anyio.sleep(warmup)
            at_warmup = hook.polls
            await anyio.sleep(seconds - warmup)
            total = hook.polls
            await runner.shutdown()
    # This app has no health check, so `next` calls are all its requests.
    return total / (time.perf_counter() - started), (total - at_warmup) / (seconds - warmup)


# -- report ----------------------------------------------------------------------------------


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<46} {value:>14}  {note}")


async def main(args: argparse.Namespace) -> int:
    emulator = EmulatorProcess()
    versions = iter(f"v{i}" for i in range(1, 100))
    scale = 0.25 if args.quick else 1.0
    rounds = 1 if args.quick else 3
    tasks = int(3000 * scale)
    failures: list[str] = []
    same = "httpx" if TRANSPORT == "httpx" else "aiohttp"
    try:
        print(
            f"bench_runner: emulator in a separate process at {emulator.url}\n"
            f"  {os.cpu_count()} cores, Python {sys.version.split()[0]}, httpx "
            f"{httpx.__version__}, event loop: {LOOP}, the SDK's client over: {same} "
            f"transport\n"
            f"  comparisons: median of {rounds} interleaved round(s)"
        )

        print("\nThroughput with a 50 ms async handler (tasks/s):")
        sequential = await sequential_rate(emulator, next(versions), int(60 * scale) or 10, 0.05)
        line("sequential loop like the Go CLI", f"{sequential:.1f}")
        at_1, _ = await runner_rate(
            emulator, next(versions), int(80 * scale) or 10, 0.05, concurrency=1
        )
        line("runner, concurrency 1", f"{at_1:.1f}", f"{at_1 / sequential:.2f}x sequential")
        at_64 = statistics.median(
            [
                (await runner_rate(emulator, next(versions), tasks, 0.05, concurrency=64))[0]
                for _ in range(rounds)
            ]
        )
        ratio = at_64 / sequential
        line("runner, concurrency 64", f"{at_64:.1f}", f"{ratio:.1f}x sequential (target >= 25x)")
        if ratio < 25:
            failures.append(f"runner@64 is {ratio:.1f}x the sequential loop, below 25x")

        print("\nOverhead with a no-op handler (next+report pairs/s):")
        rates: dict[str, list[float]] = defaultdict(list)
        for _ in range(rounds):
            for transport in BARE_TRANSPORTS:
                for callers in (4, 8):
                    rate = await bare_httpx_rate(
                        emulator, next(versions), tasks, callers, transport
                    )
                    rates[f"bare httpx loop, {transport} transport, {callers} callers"].append(rate)
                for callers in (4, 8):
                    rate = await bare_transport_rate(
                        emulator, next(versions), tasks, callers, transport
                    )
                    rates[f"bare {transport} transport loop, {callers} callers"].append(rate)
            rate = await client_rate(emulator, next(versions), tasks, 4)
            rates["AsyncTempestClient loop, 4 callers"].append(rate)
            for concurrency in (16, 64):
                rate, _ = await runner_rate(
                    emulator, next(versions), tasks, 0.0, concurrency=concurrency
                )
                rates[f"runner, concurrency {concurrency}"].append(rate)
        medians = {label: statistics.median(values) for label, values in rates.items()}
        # The runner is held to a bare loop over the transport its own client uses.
        # The target is against the bare httpx loop; the bare transport loop, which
        # skips the httpx client as the SDK's own client does, is shown as the ceiling.
        best = max(
            rate for label, rate in medians.items() if label.startswith(f"bare httpx loop, {same}")
        )
        ceiling = max(
            rate for label, rate in medians.items() if label.startswith(f"bare {same} transport")
        )
        for label, rate in medians.items():
            if label.startswith("bare"):
                line(label, f"{rate:.1f}")
            else:
                goal = "reference" if label.startswith("AsyncTempestClient") else "target >= 0.7"
                line(
                    label,
                    f"{rate:.1f}",
                    f"{rate / best:.2f} of the bare loop ({goal}), {rate / ceiling:.2f} of the "
                    "bare transport loop",
                )
        print(f"  (bare loop / bare transport loop: the best of the {same} rows of each)")
        fraction = medians["runner, concurrency 64"] / best
        if fraction < 0.7:
            failures.append(f"runner@64 no-op is {fraction:.2f} of the bare loop, below 0.7")

        print("\nMemory, no-op handler, concurrency 64 (RSS of this process):")
        total = int(10_000 * (0.5 if args.quick else 1.0))
        half = total // 2
        _, rss = await runner_rate(
            emulator, next(versions), total, 0.0, samples=(1000, half, total), concurrency=64
        )
        for count in (1000, half, total):
            line(f"after {count:,} tasks", f"{rss[count] / 2**20:.1f} MiB")
        growth = (rss[total] - rss[half]) / rss[half]
        line(f"growth from {half:,} to {total:,} tasks", f"{growth * 100:+.2f} %", "(target < 5 %)")
        if growth >= 0.05:
            failures.append(f"RSS grew {growth * 100:.1f} % between {half} and {total} tasks")

        seconds = 12.0 if args.quick else 40.0
        warmup = 6.0 if args.quick else 10.0
        print(f"\nIdle polling, one app version, {seconds:.0f} s without tasks (requests/s):")
        whole, steady = await idle_rate(emulator, next(versions), seconds, warmup)
        line("runner, whole window from start", f"{whole:.2f}")
        line(
            f"runner, steady state (after {warmup:.0f} s)",
            f"{steady:.2f}",
            "Go CLI: 0.20 (a constant 5 s nap)",
        )
    finally:
        emulator.close()
    if failures:
        print("\nBELOW TARGET: " + "; ".join(failures))
        return 1
    print("\nAll targets met.")
    return 0


def cli(argv: list[str] | None = None) -> int:
    global TRANSPORT, LOOP
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks, shorter idle window")
    parser.add_argument(
        "--transport",
        choices=["default", "httpx"],
        default="default",
        help="the transport of the SDK's client in the run (default: AsyncTempestClient's "
        "default, httpx-aiohttp on asyncio; httpx: httpx's own)",
    )
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop (uvloop: uvicorn's default where it is installed)",
    )
    args = parser.parse_args(argv)
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        parser.error("--loop uvloop needs uvloop: pip install uvloop")
    TRANSPORT, LOOP = args.transport, args.loop
    runner: Callable[[], Any] = lambda: main(args)  # noqa: E731
    return int(anyio.run(runner, backend_options={"use_uvloop": args.loop == "uvloop"}))


if __name__ == "__main__":
    sys.exit(cli())
