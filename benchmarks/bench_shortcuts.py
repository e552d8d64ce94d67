"""Does a speed shortcut earn its place? The runner's throughput with and without it.

The rule (issue 23): a shortcut that costs clarity stays only where it gains more than
5 % of end-to-end throughput at 20 ms of network latency. Measured here for the one
shortcut kept, `_fastcheck` (a conservative draft-07 check that answers "valid" in
about a microsecond, where `jsonschema` spends 15-20 us per instance):

- the runner at concurrency 64 against the local emulator (its own process) whose
  every answer is held back 20 ms, serving list tasks whose handler returns a page of
  `--page` resources (each checked against the type's properties schema), and create
  tasks that return one resource;
- each workload twice per round, in fresh processes, with the fast check and with it
  switched off (`compile_fast_check` answering None, so `jsonschema` decides alone),
  alternating; the figure is the median of the rounds.

    python benchmarks/bench_shortcuts.py                 # 3 rounds of 5 s, pages of 100
    python benchmarks/bench_shortcuts.py --rounds 5 --page 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = r"""
import json, logging, sys, time
import anyio
sys.path.insert(0, {here!r})
logging.disable(logging.CRITICAL)
if not {fast!r}:
    import tempest_sdk._app._validate as validate
    validate.compile_fast_check = lambda schema: None
import tempest_sdk as tempest
from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner
from pydantic import BaseModel

class Props(BaseModel):
    name: str
    size: int
    region: str
    enabled: bool

app = tempest.App("shortcuts", "v1")
thing = app.resource("thing", description="A thing.", properties=Props)
PAGE = [
    tempest.Resource(external_id=f"r{{i}}", display_name=f"R{{i}}",
                     properties=Props(name=f"n{{i}}", size=i, region="eu", enabled=True))
    for i in range({page})
]

@thing.list
async def listing(ctx: tempest.Context, next: str) -> tempest.Page:
    return tempest.Page(resources=PAGE)

@thing.create
async def create(ctx: tempest.Context, input: Props) -> tempest.Resource:
    return tempest.Resource(external_id="c1", properties=input)

async def main():
    emulator = Emulator(seed=1, lease_timeout=300.0)
    with emulator.serve_in_thread():
        emulator.inject("*", latency=0.02)
        count = 4000
        for _ in range(count):
            if {kind!r} == "list":
                emulator.enqueue_list("shortcuts", "v1", "thing")
            else:
                emulator.enqueue_operation("shortcuts", "v1", "thing", "create",
                                           input={{"name": "a", "size": 1, "region": "eu",
                                                   "enabled": True}})
        async with AsyncTempestClient(emulator.token, endpoint=emulator.url) as client:
            runner = Runner(app, client, concurrency=64)
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                await runner.ready()
                started = time.perf_counter()
                cpu = time.process_time()
                while runner.delivered < count and time.perf_counter() < started + {window}:
                    await anyio.sleep(0.005)
                rate = runner.delivered / (time.perf_counter() - started)
                cpu_per = (time.process_time() - cpu) / max(1, runner.delivered)
                await runner.shutdown()
    print(json.dumps({{"rate": rate, "cpu": cpu_per}}))

anyio.run(main)
"""


def measure(kind: str, fast: bool, page: int, window: float) -> dict[str, float]:
    code = _CHILD.format(here=str(HERE), fast=fast, kind=kind, page=page, window=window)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    print(
        f"_fastcheck at the runner's level: concurrency 64, 20 ms latency, "
        f"median of {args.rounds} rounds of {args.window:g} s (the emulator in this process's"
        " threads)"
    )
    print(f"{'workload':28} {'with':>10} {'without':>10} {'gain':>7}  CPU ms/task with/without")
    verdict = 0
    for kind, label in (("list", f"list, pages of {args.page}"), ("create", "create, 1 resource")):
        runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for _ in range(args.rounds):
            for fast in (True, False):
                runs[fast].append(measure(kind, fast, args.page, args.window))
        with_ = statistics.median(r["rate"] for r in runs[True])
        without = statistics.median(r["rate"] for r in runs[False])
        cpu_with = statistics.median(r["cpu"] for r in runs[True]) * 1000
        cpu_without = statistics.median(r["cpu"] for r in runs[False]) * 1000
        gain = with_ / without - 1
        print(
            f"{label:28} {with_:10.1f} {without:10.1f} {gain:+7.1%}  "
            f"{cpu_with:.2f} / {cpu_without:.2f}"
        )
        if kind == "list" and gain > 0.05:
            verdict = 1
    print(
        "verdict: _fastcheck "
        + ("earns its place (> 5 % on listed pages)" if verdict else "does NOT earn its place")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
