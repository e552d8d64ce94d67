"""How many `next`+`report` pairs per second the emulator sustains.

The emulator serves from a thread of this process; N tasks are enqueued, then client
processes drain them, each pair being a `next` (200 with a task) and an ok `report`.
Light clients (`http.client`, one keep-alive connection per thread) measure the
server, not the client; one httpx.AsyncClient is driven for reference, and the
in-process transport (no sockets) for unit-test speed.

    python benchmarks/bench_emulator.py                  # the default figures
    python benchmarks/bench_emulator.py --tasks 20000 --processes 2 --threads 4
    python benchmarks/bench_emulator.py --server h11   # compare: anyio + h11
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tempest_sdk.emulator import Emulator

APP, VERSION = "bench", "v1"


def _report(task_id: str) -> bytes:
    return json.dumps(
        {
            "task_id": task_id,
            "status": "ok",
            "response": {
                "response_type": "execute_resource_operation",
                "resource": {
                    "type": "example",
                    "external_id": "ex-1",
                    "display_name": "Example 1",
                    "properties": {"color": "red", "size": 3},
                },
            },
        }
    ).encode()


# -- clients (run in child processes) -------------------------------------------------------


def _light_worker(port: int, base: str, token: str, counts: list[int]) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    next_body = json.dumps({"app_id": APP, "version": VERSION}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pairs = 0
    while True:
        conn.request("POST", f"{base}/apps.operations.next", next_body, headers)
        answer = conn.getresponse()
        data = answer.read()
        if answer.status == 204:
            break
        assert answer.status == 200, (answer.status, data)
        task_id = json.loads(data)["task_id"]
        conn.request("POST", f"{base}/apps.operations.report", _report(task_id), headers)
        answer = conn.getresponse()
        data = answer.read()
        assert answer.status == 200, (answer.status, data)
        pairs += 1
    conn.close()
    counts.append(pairs)


def _light_client(port: int, base: str, token: str, threads: int) -> int:
    counts: list[int] = []
    workers = [
        threading.Thread(target=_light_worker, args=(port, base, token, counts))
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts)


def _httpx_client(port: int, base: str, token: str, concurrency: int) -> int:
    import httpx

    async def run() -> int:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        next_body = json.dumps({"app_id": APP, "version": VERSION}).encode()
        url = f"http://127.0.0.1:{port}{base}"
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

            async def worker() -> int:
                pairs = 0
                while True:
                    answer = await client.post("/apps.operations.next", content=next_body)
                    if answer.status_code == 204:
                        return pairs
                    task_id = answer.json()["task_id"]
                    answer = await client.post("/apps.operations.report", content=_report(task_id))
                    assert answer.status_code == 200, answer.text
                    pairs += 1

            return sum(await asyncio.gather(*(worker() for _ in range(concurrency))))

    return asyncio.run(run())


def _client_main(args: argparse.Namespace) -> None:
    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    if args.client == "light":
        pairs = _light_client(args.port, args.base, args.token, args.threads)
    else:
        pairs = _httpx_client(args.port, args.base, args.token, args.concurrency)
    print(json.dumps({"pairs": pairs}), flush=True)


# -- servers ------------------------------------------------------------------------------


@contextmanager
def _serve(emulator: Emulator, kind: str) -> Iterator[int]:
    if kind == "threading":
        with emulator.serve_in_thread():
            yield int(emulator.url.split(":")[2].split("/")[0])
        return
    # For comparison only: the same core behind an anyio + h11 server (one task per
    # connection, one send per answer), the other candidate for the emulator's server.
    import anyio
    import anyio.from_thread
    import h11

    async def connection(stream: anyio.abc.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        chunks: list[bytes] = []
        async with stream:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        conn.receive_data(await stream.receive(65536))
                    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                        return
                elif isinstance(event, h11.Request):
                    request, chunks = event, []
                elif isinstance(event, h11.Data):
                    chunks.append(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    headers = {k.decode(): v.decode() for k, v in request.headers}
                    answer = emulator.handle(
                        request.method.decode(), request.target.decode(), headers, b"".join(chunks)
                    )
                    head = [*answer.headers, ("content-length", str(len(answer.body)))]
                    out = conn.send(h11.Response(status_code=answer.status, headers=head)) or b""
                    out += conn.send(h11.Data(data=answer.body)) or b""
                    out += conn.send(h11.EndOfMessage()) or b""
                    await stream.send(out)
                    conn.start_next_cycle()
                else:
                    return

    async def serve(*, task_status: anyio.abc.TaskStatus[int]) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        task_status.started(listener.extra(anyio.abc.SocketAttribute.local_port))
        await listener.serve(connection)

    with anyio.from_thread.start_blocking_portal() as portal:
        future, port = portal.start_task(serve)
        try:
            yield port
        finally:
            future.cancel()


def _run(args: argparse.Namespace, client: str, processes: int, label: str, tasks: int) -> float:
    emulator = Emulator(lease_timeout=3600.0)
    for _ in range(tasks):
        emulator.enqueue_operation(APP, VERSION, "example", "update", external_id="ex-1")
    with _serve(emulator, args.server) as port:
        command = [
            sys.executable,
            __file__,
            "--client",
            client,
            "--port",
            str(port),
            "--base",
            emulator.base_path,
            "--token",
            emulator.token,
            "--threads",
            str(args.threads),
            "--concurrency",
            str(args.concurrency),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        children = [
            subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
            for _ in range(processes)
        ]
        for child in children:
            if child.stdout is None or child.stdout.readline().strip() != "ready":
                raise SystemExit("a client process failed to start")
        started = time.perf_counter()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        emulator.wait_for_reports(tasks, timeout=600)
        elapsed = time.perf_counter() - started
        pairs = 0
        for child in children:
            out, _ = child.communicate(timeout=60)
            pairs += json.loads(out.strip().splitlines()[-1])["pairs"]
    if pairs != tasks or emulator.duplicate_reports or emulator.violations:
        raise SystemExit(f"lost or duplicated work: {pairs} pairs for {tasks} tasks")
    rate = tasks / elapsed
    print(f"{label:<58} {tasks:>6} pairs in {elapsed:6.2f} s = {rate:7.0f} pairs/s")
    return rate


def _in_process(args: argparse.Namespace) -> float:
    import httpx

    emulator = Emulator(lease_timeout=3600.0)
    tasks = min(args.tasks, 3000)
    for _ in range(tasks):
        emulator.enqueue_operation(APP, VERSION, "example", "update", external_id="ex-1")

    async def run() -> None:
        headers = {"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"}
        next_body = json.dumps({"app_id": APP, "version": VERSION}).encode()
        async with httpx.AsyncClient(
            base_url=emulator.url, headers=headers, transport=emulator.transport()
        ) as client:
            while True:
                answer = await client.post("/apps.operations.next", content=next_body)
                if answer.status_code == 204:
                    return
                task_id = answer.json()["task_id"]
                await client.post("/apps.operations.report", content=_report(task_id))

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    rate = tasks / elapsed
    label = "in-process transport, one httpx.AsyncClient (no sockets)"
    print(f"{label:<58} {tasks:>6} pairs in {elapsed:6.2f} s = {rate:7.0f} pairs/s")
    return rate


def main() -> None:
    """Run the benchmark, or one client process of it (`--client`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=8000, help="tasks per run (default 8000)")
    parser.add_argument("--processes", type=int, default=2, help="light client processes")
    parser.add_argument("--threads", type=int, default=4, help="connections per light client")
    parser.add_argument("--concurrency", type=int, default=8, help="callers of the httpx client")
    parser.add_argument(
        "--server",
        choices=["threading", "h11"],
        default="threading",
        help="the emulator's server (default), or an anyio + h11 one for comparison",
    )
    parser.add_argument("--client", choices=["light", "httpx"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        _client_main(args)
        return
    server = "the emulator's (http.server, threading)"
    if args.server == "h11":
        server = "anyio + h11 over the emulator's core (comparison)"
    print(f"emulator server: {server}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    light = f"{args.processes} processes x {args.threads} http.client connections"
    _run(args, "light", args.processes, light, args.tasks)
    _run(args, "light", 1, f"1 process x {args.threads} http.client connections", args.tasks)
    # httpx is the slow side (DESIGN.md): fewer tasks give the same rate sooner.
    httpx_label = f"1 process, one httpx.AsyncClient x {args.concurrency} callers"
    _run(args, "httpx", 1, httpx_label, min(args.tasks, 3000))
    if args.server == "threading":
        _in_process(args)


if __name__ == "__main__":
    main()
