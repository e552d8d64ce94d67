"""What the runner's young-generation GC threshold buys: `gc_threshold="auto"` against
`None` (Python's 700), in alternating pairs of runs in one process.

Against the lean local control plane (`_lean_server.py`, its own process, 127.0.0.1)
with a 50 ms handler, each run measured as `bench_range.py` measures its range section
(a window once every slot is busy). Pairs alternate which goes first, so the machine's
drift falls on both; the figure is each setting's median fraction of the ideal
`concurrency / (handler + 2 L)`, and how many pairs `"auto"` won.

    python benchmarks/bench_gc.py                        # c = 256, L = 100 ms, 8 pairs
    python benchmarks/bench_gc.py --concurrency 64 --latency 0.02 --pairs 4
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

import anyio
from _lean_server import LeanServer
from bench_range import GC, HANDLER, ideal, runner_rate

SETTINGS: dict[str, str | None] = {"auto": "auto", "None": None}


async def main(args: argparse.Namespace) -> None:
    gc.callbacks.append(GC)
    server = LeanServer(lifetime=1800.0)
    fractions: dict[str, list[float]] = {name: [] for name in SETTINGS}
    cpu: dict[str, list[float]] = {name: [] for name in SETTINGS}
    wins = 0
    versions = iter(range(1, 10_000))
    print(
        f"bench_gc: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; c = "
        f"{args.concurrency}, L = {args.latency * 1000:g} ms, {HANDLER * 1000:g} ms handler, "
        f"{args.window:g} s windows, {args.pairs} pairs"
    )
    try:
        for pair in range(args.pairs):
            order = list(SETTINGS) if pair % 2 == 0 else list(reversed(SETTINGS))
            got: dict[str, float] = {}
            for name in order:
                run = await runner_rate(
                    server,
                    f"v{next(versions)}",
                    args.concurrency,
                    args.latency,
                    1.0,
                    args.window,
                    gc_threshold=SETTINGS[name],
                )
                got[name] = run.rate / ideal(args.concurrency, args.latency)
                fractions[name].append(got[name])
                cpu[name].append(run.runner_cpu / run.rate * 1000)
                print(
                    f"  pair {pair + 1} {name:>4}: {got[name]:.2f} of ideal, "
                    f"{cpu[name][-1]:.2f} ms CPU a task, GC {run.gc_cpu:.2f} cores"
                )
            wins += got["auto"] > got["None"]
    finally:
        server.close()
        gc.callbacks.remove(GC)
    for name in SETTINGS:
        print(
            f"gc_threshold={name}: median {statistics.median(fractions[name]):.2f} of ideal "
            f"({min(fractions[name]):.2f}-{max(fractions[name]):.2f}), "
            f"{statistics.median(cpu[name]):.2f} ms CPU a task"
        )
    print(f'"auto" ahead in {wins} of {args.pairs} pairs')


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds")
    parser.add_argument("--window", type=float, default=3.0, help="seconds a run")
    parser.add_argument("--pairs", type=int, default=8)
    anyio.run(main, parser.parse_args())


if __name__ == "__main__":
    cli()
