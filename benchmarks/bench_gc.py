"""What the runner's young-generation GC threshold buys: `gc_threshold="auto"` against
`None` (Python's 700), in alternating pairs of runs in one process.

Against the lean local control plane (`_lean_server.py`, its own process, 127.0.0.1)
with a 50 ms handler, each run measured as `bench_range.py` measures its range section
(a window once every slot is busy). Pairs alternate which goes first, so the machine's
drift falls on both; the figure is each setting's median fraction of the ideal
`concurrency / (handler + 2 L)`, and how many pairs `"auto"` won.

With `--cycle-kib N`, each task's handler also leaves N KiB in a reference cycle, which
only the collector frees: the memory a higher threshold costs, as the most the
process's resident memory grew during each run (each starts collected and, on glibc,
with freed memory handed back to the system).

    python benchmarks/bench_gc.py                        # c = 256, L = 100 ms, 8 pairs
    python benchmarks/bench_gc.py --concurrency 64 --latency 0.02 --pairs 4
    python benchmarks/bench_gc.py --pairs 2 --cycle-kib 10
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import statistics
import time
from typing import Any

import anyio
from _lean_server import LeanServer
from bench_range import GC, HANDLER, ideal, runner_rate
from bench_runner import APP, rss_bytes

import tempest_sdk as tempest

SETTINGS: dict[str, str | None] = {"auto": "auto", "None": None}


def cyclic_app(version: str, kib: int) -> tempest.App:
    """The benchmark's app, its action leaving `kib` KiB in a reference cycle."""
    app = tempest.App(APP, version)
    thing = app.resource("thing", display_name="Thing", description="A benchmark thing.")

    @thing.action("work", display_name="Work", description="Sleep, leave a cycle.")
    async def work(ctx: tempest.Context, resource: tempest.Resource) -> dict[str, Any]:
        await anyio.sleep(HANDLER)
        garbage: list[object] = [bytes(kib * 1024)]
        garbage.append(garbage)
        return {}

    return app


def settled_rss() -> int:
    """Resident bytes after a full collection and, on glibc, `malloc_trim`: freed memory
    of an earlier run would otherwise hide this one's growth."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_bytes()


async def most_rss(seen: list[int]) -> None:
    """Keep the most resident memory of this process in `seen[0]`, every 20 ms."""
    while True:
        seen[0] = max(seen[0], rss_bytes())
        await anyio.sleep(0.02)


async def main(args: argparse.Namespace) -> None:
    gc.callbacks.append(GC)
    server = LeanServer(lifetime=1800.0)
    fractions: dict[str, list[float]] = {name: [] for name in SETTINGS}
    cpu: dict[str, list[float]] = {name: [] for name in SETTINGS}
    rss: dict[str, list[float]] = {name: [] for name in SETTINGS}
    wins = 0
    versions = iter(range(1, 10_000))
    print(
        f"bench_gc: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; c = "
        f"{args.concurrency}, L = {args.latency * 1000:g} ms, {HANDLER * 1000:g} ms handler, "
        f"{args.window:g} s windows, {args.pairs} pairs"
        + (f", {args.cycle_kib} KiB left in a cycle by each task" if args.cycle_kib else "")
    )
    try:
        for pair in range(args.pairs):
            order = list(SETTINGS) if pair % 2 == 0 else list(reversed(SETTINGS))
            got: dict[str, float] = {}
            for name in order:
                version = f"v{next(versions)}"
                app = cyclic_app(version, args.cycle_kib) if args.cycle_kib else None
                start = settled_rss()
                seen = [start]
                async with anyio.create_task_group() as group:
                    group.start_soon(most_rss, seen)
                    run = await runner_rate(
                        server,
                        version,
                        args.concurrency,
                        args.latency,
                        1.0,
                        args.window,
                        app=app,
                        gc_threshold=SETTINGS[name],
                    )
                    group.cancel_scope.cancel()
                rss[name].append((seen[0] - start) / 2**20)
                got[name] = run.rate / ideal(args.concurrency, args.latency)
                fractions[name].append(got[name])
                cpu[name].append(run.runner_cpu / run.rate * 1000)
                print(
                    f"  pair {pair + 1} {name:>4}: {got[name]:.2f} of ideal, "
                    f"{cpu[name][-1]:.2f} ms CPU a task, GC {run.gc_cpu:.2f} cores, "
                    f"RSS +{rss[name][-1]:.0f} MiB at most"
                )
            wins += got["auto"] > got["None"]
    finally:
        server.close()
        gc.callbacks.remove(GC)
    for name in SETTINGS:
        print(
            f"gc_threshold={name}: median {statistics.median(fractions[name]):.2f} of ideal "
            f"({min(fractions[name]):.2f}-{max(fractions[name]):.2f}), "
            f"{statistics.median(cpu[name]):.2f} ms CPU a task, RSS +"
            f"{max(rss[name]):.0f} MiB at most"
        )
    print(f'"auto" ahead in {wins} of {args.pairs} pairs')


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds")
    parser.add_argument("--window", type=float, default=3.0, help="seconds a run")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument(
        "--cycle-kib", type=int, default=0, help="KiB each task leaves in a reference cycle"
    )
    anyio.run(main, parser.parse_args())


if __name__ == "__main__":
    cli()
