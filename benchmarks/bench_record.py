"""What recording costs: the runner's throughput with `record=` on against off.

The runner serves 10,000 tasks from the lean control plane (`_lean_server.py`, its own
process) that holds every answer back 20 ms, as a network would, with a no-op async
handler (nothing but the runner's own work, where a record's cost shows most), at the
runner's default concurrency (16: at most 16 / 40 ms = 400 tasks/s); `--concurrency
64` makes the runner CPU-bound on small machines, where each record's CPU shows in
full. Runs alternate off / on, at least three of each, in the same run against the
same server; the figure is the ratio of the medians (target: recording costs at most
5 %, a ratio of at least 0.95). Each task carries a secret variable, so every record
is masked as in production.

Recording rotates at `--max-bytes` keeping `--files` files: after each recorded run the
files on disk are measured against that bound (target: every file within
`--max-bytes`, at most `--files` files), with the records written and dropped.

    python benchmarks/bench_record.py                # 10,000 tasks, 3 runs of each
    python benchmarks/bench_record.py --runs 5 --concurrency 64
    python benchmarks/bench_record.py --quick        # 2,000 tasks (a smoke run)
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from _lean_server import LeanServer
from bench_runner import bench_app

from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import Runner

LATENCY = 0.02


async def serve(
    server: LeanServer,
    version: str,
    tasks: int,
    handler: float,
    concurrency: int,
    **options: Any,
) -> tuple[float, Runner]:
    """Tasks per second of a runner draining `tasks` tasks, from ready to the last
    acknowledged report (recording's queue is written out after that, at stop)."""
    server.enqueue(version, tasks)
    async with AsyncTempestClient(server.token, endpoint=server.url) as client:
        runner = Runner(
            bench_app(version, handler),
            client,
            concurrency=concurrency,
            health_interval=3600.0,
            blocked_loop_warning=None,
            **options,
        )
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            with anyio.fail_after(60):
                await runner.ready()
            started = time.perf_counter()
            with anyio.fail_after(900):
                # A counter read every few ms, so that the runner does no extra work.
                while runner.delivered < tasks:  # noqa: ASYNC110
                    await anyio.sleep(0.005)
            rate = tasks / (time.perf_counter() - started)
            with anyio.fail_after(60):
                await runner.shutdown()
    return rate, runner


def on_disk(folder: Path) -> list[tuple[str, int]]:
    return sorted((path.name, path.stat().st_size) for path in folder.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each, off and on (>= 3)")
    parser.add_argument("--handler", type=float, default=0.0, help="seconds the handler sleeps")
    parser.add_argument("--concurrency", type=int, default=16, help="the runner's concurrency")
    parser.add_argument("--max-bytes", type=int, default=2 * 2**20, help="record_max_bytes")
    parser.add_argument("--files", type=int, default=3, help="record_files")
    parser.add_argument("--quick", action="store_true", help="2,000 tasks")
    args = parser.parse_args()
    tasks = 2_000 if args.quick else args.tasks
    logging.getLogger("tempest_sdk").addHandler(logging.NullHandler())
    logging.getLogger("tempest_sdk").propagate = False

    server = LeanServer()
    server.set_latency(LATENCY)
    off: list[float] = []
    on: list[float] = []
    bound_ok = True
    print(
        f"{tasks:,} tasks a run, L = {LATENCY * 1000:.0f} ms, concurrency {args.concurrency}, "
        f"handler {args.handler * 1000:.0f} ms; record_max_bytes={args.max_bytes:,}, "
        f"record_files={args.files}"
    )
    try:
        # A first run warms up imports, pools and caches; not counted.
        anyio.run(serve, server, "v0", min(tasks, 1_000), args.handler, args.concurrency)
        for run in range(args.runs):
            rate, _ = anyio.run(
                serve, server, f"v{2 * run + 1}", tasks, args.handler, args.concurrency
            )
            off.append(rate)
            print(f"  run {run + 1}: off {rate:8.1f} tasks/s")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "tasks.jsonl"
                rate, runner = anyio.run(
                    lambda run=run, path=path: serve(
                        server,
                        f"v{2 * run + 2}",
                        tasks,
                        args.handler,
                        args.concurrency,
                        record=path,
                        record_max_bytes=args.max_bytes,
                        record_files=args.files,
                    )
                )
                on.append(rate)
                sample = runner.sample()
                files = on_disk(Path(folder))
                total = sum(size for _, size in files)
                within = len(files) <= args.files and all(
                    size <= args.max_bytes for _, size in files
                )
                bound_ok = bound_ok and within
                lines = sum(
                    len((Path(folder) / name).read_bytes().splitlines()) for name, _ in files
                )
                print(
                    f"  run {run + 1}: on  {rate:8.1f} tasks/s; {sample.records_written:,} "
                    f"records written, {sample.records_dropped:,} dropped; on disk "
                    f"{len(files)} file(s), {total:,} bytes, largest "
                    f"{max(size for _, size in files):,} ({lines:,} records kept): "
                    f"{'within' if within else 'OVER'} the bound of {args.files} x "
                    f"{args.max_bytes:,} = {args.files * args.max_bytes:,} bytes"
                )
    finally:
        server.close()
    ratio = statistics.median(on) / statistics.median(off)
    pairs = ", ".join(f"{b / a:.3f}" for a, b in zip(off, on, strict=True))
    print(f"on/off of each pair of runs: {pairs}")
    print(
        f"median off {statistics.median(off):.1f} tasks/s, on {statistics.median(on):.1f} "
        f"tasks/s: ratio {ratio:.3f} (cost {100 * (1 - ratio):+.1f} %; target: cost <= 5 %, "
        f"{'met' if ratio >= 0.95 else 'NOT met'}); files within their bound: "
        f"{'yes' if bound_ok else 'NO'}"
    )
    sys.exit(0 if ratio >= 0.95 and bound_ok else 1)


if __name__ == "__main__":
    main()
