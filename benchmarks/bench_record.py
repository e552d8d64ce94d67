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
import os
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
from tempest_sdk.runner import Runner, _record

# The writer thread's own CPU time, read where it ends: the writing (the lines are built
# on the event loop's thread, as each task ends).
WRITER_CPU: list[float] = []
_writer_run = _record.RecordWriter._run


def _timed_run(self: _record.RecordWriter) -> None:
    try:
        _writer_run(self)
    finally:
        WRITER_CPU.append(time.thread_time())


_record.RecordWriter._run = _timed_run  # type: ignore[method-assign]

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
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    writers: list[float] = []
    bound_ok = True
    versions = iter(range(1, 10_000))
    print(
        f"{tasks:,} tasks a run, L = {LATENCY * 1000:.0f} ms, concurrency {args.concurrency}, "
        f"handler {args.handler * 1000:.0f} ms; record_max_bytes={args.max_bytes:,}, "
        f"record_files={args.files}; load average {os.getloadavg()[0]:.1f}"
    )

    def measure(recording: bool, run: int) -> None:
        nonlocal bound_ok
        version = f"v{next(versions)}"
        with tempfile.TemporaryDirectory() as folder:
            options: dict[str, Any] = {}
            if recording:
                options = {
                    "record": Path(folder) / "tasks.jsonl",
                    "record_max_bytes": args.max_bytes,
                    "record_files": args.files,
                }
            cpu = time.process_time()
            rate, runner = anyio.run(
                lambda: serve(server, version, tasks, args.handler, args.concurrency, **options)
            )
            # This process's CPU (every thread: the writer's too) per task, in µs.
            per_task = (time.process_time() - cpu) / tasks * 1e6
            rates[recording].append(rate)
            cpus[recording].append(per_task)
            line = f"  run {run + 1}: {'on ' if recording else 'off'} {rate:7.1f} tasks/s"
            line += f", {per_task:5.0f} µs CPU a task"
            if recording:
                writer = WRITER_CPU.pop() / tasks * 1e6
                writers.append(writer)
                line += f" ({writer:.0f} µs of it in the writer thread)"
                sample = runner.sample()
                files = on_disk(Path(folder))
                within = len(files) <= args.files and all(
                    size <= args.max_bytes for _, size in files
                )
                bound_ok = bound_ok and within
                kept = sum(
                    len((Path(folder) / name).read_bytes().splitlines()) for name, _ in files
                )
                line += (
                    f"; {sample.records_written:,} records written, "
                    f"{sample.records_dropped:,} dropped; {len(files)} file(s) on disk, "
                    f"{sum(size for _, size in files):,} bytes, the largest "
                    f"{max(size for _, size in files):,} ({kept:,} records kept): "
                    f"{'within' if within else 'OVER'} the bound"
                )
            print(line, flush=True)

    try:
        # A first run warms up imports, pools and caches; not counted.
        anyio.run(serve, server, "v0", min(tasks, 1_000), args.handler, args.concurrency)
        for run in range(args.runs):
            # Off first, then on first: a drift of the machine weighs on both alike.
            for recording in (False, True) if run % 2 == 0 else (True, False):
                measure(recording, run)
    finally:
        server.close()
    off, on = rates[False], rates[True]
    ratio = statistics.median(on) / statistics.median(off)
    ratios = [b / a for a, b in zip(off, on, strict=True)]
    pairs = ", ".join(f"{r:.3f}" for r in ratios)
    cpu_off, cpu_on = statistics.median(cpus[False]), statistics.median(cpus[True])
    # Each pair ran back to back: its ratio is less exposed to a load that drifts over
    # the whole run (other processes on a shared machine) than the ratio of medians.
    print(
        f"on/off of each pair of runs: {pairs} (median {statistics.median(ratios):.3f}); "
        f"load average now {os.getloadavg()[0]:.1f}"
    )
    print(
        f"CPU a task: median off {cpu_off:.0f} µs, on {cpu_on:.0f} µs "
        f"({cpu_on - cpu_off:+.0f} µs, {100 * (cpu_on / cpu_off - 1):+.1f} %)"
    )
    writer = statistics.median(writers)
    print(
        f"the writer thread: {writer:.0f} µs CPU a record, {100 * writer / cpu_off:.1f} % of "
        f"the CPU a task costs without recording; the rest of the process (the event "
        f"loop's thread): {cpu_on - writer:.0f} µs a task on, {cpu_off:.0f} µs off "
        f"({cpu_on - writer - cpu_off:+.0f} µs)"
    )
    print(
        f"throughput: median off {statistics.median(off):.1f} tasks/s, on "
        f"{statistics.median(on):.1f} tasks/s: ratio {ratio:.3f} (cost "
        f"{100 * (1 - ratio):+.1f} %; target: cost <= 5 %, "
        f"{'met' if ratio >= 0.95 else 'NOT met'}); files within their bound "
        f"({args.files} x {args.max_bytes:,} bytes): {'yes' if bound_ok else 'NO'}"
    )
    sys.exit(0 if ratio >= 0.95 and bound_ok else 1)


if __name__ == "__main__":
    main()
