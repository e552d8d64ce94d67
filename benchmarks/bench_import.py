"""What importing the SDK costs, against `from pydantic import BaseModel` in the same run.

Each figure is the median of N fresh interpreters (interpreter start included), run
round-robin so that a disturbance hits every command alike, after a warm-up round that
writes any missing bytecode (`PYTHONDONTWRITEBYTECODE` is cleared for the children).
Both the wall time and the child's CPU time (user + system, from `wait4`) are shown;
the CPU time is the steadier on a shared machine, and the target is checked on it:

- `from pydantic import BaseModel`: the baseline;
- `from tempest_sdk import App`: what an app module imports (target: at most 1.5x the
  baseline). Declaring loads the rest on first use: `app.resource(...)` the wire
  models and schema derivation, serving the runner and the client;
- for context: an empty interpreter, `import tempest_sdk`, `tempest-sdk --version`,
  and the whole helloworld example app module (`examples/helloworld/app.py`: an `App`,
  two pydantic models and five handlers declared, so wire models and schemas built).

Run: python benchmarks/bench_import.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TARGET = 1.5
BASELINE = "from pydantic import BaseModel"
MEASURED = "from tempest_sdk import App"
HELLOWORLD = Path(__file__).resolve().parent.parent / "examples" / "helloworld" / "app.py"


def cli_command() -> list[str]:
    """`tempest-sdk` as installed beside this interpreter, or its `-m` form."""
    script = Path(sys.executable).with_name("tempest-sdk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tempest_sdk"]


def commands() -> dict[str, list[str]]:
    load_helloworld = f"import sys; sys.path.insert(0, {str(HELLOWORLD.parent)!r}); import app"
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        BASELINE: [sys.executable, "-c", BASELINE],
        MEASURED: [sys.executable, "-c", MEASURED],
        "import tempest_sdk": [sys.executable, "-c", "import tempest_sdk"],
        "tempest-sdk --version": [*cli_command(), "--version"],
        "the helloworld app module": [sys.executable, "-c", load_helloworld],
    }


@dataclass
class Timing:
    wall: float  # seconds, median
    cpu: float  # CPU-seconds of the child, median


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and the child's CPU-seconds of one run of `command`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def measure(runs: int) -> dict[str, Timing]:
    """The median wall and CPU time of each command over `runs` round-robin rounds."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    table = commands()
    for command in table.values():
        run_once(command, env)  # warm-up: the OS file cache, and bytecode written
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in table}
    for _ in range(runs):
        for label, command in table.items():
            samples[label].append(run_once(command, env))
    return {
        label: Timing(
            statistics.median(wall for wall, _ in found),
            statistics.median(cpu for _, cpu in found),
        )
        for label, found in samples.items()
    }


def ratio(figures: dict[str, Timing]) -> float:
    """`from tempest_sdk import App` over the baseline, in CPU time."""
    return figures[MEASURED].cpu / figures[BASELINE].cpu


def report(figures: dict[str, Timing], indent: str = "  ") -> list[str]:
    """The table's lines (each within 78 columns)."""
    base = figures[BASELINE]
    lines = [f"{indent}{'':<30} {'CPU':>8} {'x base':>7} {'wall':>8} {'x base':>7}"]
    for label, timing in figures.items():
        lines.append(
            f"{indent}{label:<30} {timing.cpu * 1000:>5.0f} ms {timing.cpu / base.cpu:>6.2f}x"
            f" {timing.wall * 1000:>5.0f} ms {timing.wall / base.wall:>6.2f}x"
        )
    return lines


def main(runs: int) -> int:
    print(
        f"bench_import: median of {runs} fresh interpreters each, interpreter start "
        f"included,\n  Python {sys.version.split()[0]}; CPU = the child's user + system time"
    )
    figures = measure(runs)
    print("\n".join(report(figures)))
    found = ratio(figures)
    print(f"  target: App <= {TARGET}x the pydantic line in CPU ({found:.2f}x)")
    if found > TARGET:
        print(f"\nBELOW TARGET: {found:.2f}x, over {TARGET}x")
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interpreters per command")
    raise SystemExit(main(parser.parse_args().runs))
