"""The runner's throughput and CPU per task in this tree against another checkout, in one run.

For a structural change that must not cost speed: the same measurement of
`bench_latency.runner_rate` (a 50 ms async handler at concurrency 64, against the lean
server with latency L) runs in a fresh process for each tree, the trees alternating,
at L = 20 and 50 ms; and a no-op handler at L = 0 gives each tree's CPU seconds per
task (the runner's process only; the server has its own). Each figure is the median
of the rounds.

    python benchmarks/bench_compare.py ../base            # another checkout's root
    python benchmarks/bench_compare.py ../base --rounds 5 --window 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

# Runs in the child: import the tree's own SDK and benchmarks, measure, print JSON.
_CHILD = """
import json, sys, time, anyio
sys.path[:0] = [{root!r}, {root!r} + "/benchmarks"]
import bench_latency as b
from _lean_server import LeanServer

async def main():
    server = LeanServer(lifetime=300.0)
    out = {{}}
    for n, latency in enumerate({latencies!r}):
        out[str(latency)] = await b.runner_rate(server, f"v{{n + 1}}", latency, 0.05, {window})
    tasks = 3000
    server.set_latency(0.0)
    cpu = time.process_time()
    rate = await b.runner_rate(server, "v9", 0.0, 0.0, {window})
    out["cpu_per_task"] = (time.process_time() - cpu) / max(1.0, rate * {window})
    print(json.dumps(out))

anyio.run(main)
"""


def measure(root: Path, latencies: tuple[float, ...], window: float) -> dict[str, float]:
    code = _CHILD.format(root=str(root), latencies=latencies, window=window)
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="the root of the checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=5.0, help="seconds per measurement")
    args = parser.parse_args()
    latencies = (0.02, 0.05)
    trees = {"this tree": HERE, "other": args.other.resolve()}
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, root in trees.items():
            figures[name].append(measure(root, latencies, args.window))
    print(f"other = {trees['other']}; median of {args.rounds} rounds, {args.window:g} s each")
    print(f"{'figure':34} {'this tree':>12} {'other':>12} {'ratio':>7}")
    for key, label in [
        ("0.02", "tasks/s at L = 20 ms (ideal 711)"),
        ("0.05", "tasks/s at L = 50 ms (ideal 427)"),
        ("cpu_per_task", "CPU ms per no-op task at L = 0"),
    ]:
        scale = 1000.0 if key == "cpu_per_task" else 1.0
        mine = statistics.median(r[key] for r in figures["this tree"]) * scale
        theirs = statistics.median(r[key] for r in figures["other"]) * scale
        print(f"{label:34} {mine:12.3f} {theirs:12.3f} {mine / theirs:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
