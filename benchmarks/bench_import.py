"""What `import tempest_sdk` costs, against `import pydantic` measured in the same run.

Each figure is the median wall time of N fresh interpreters, interpreter start included,
run round-robin so that a disturbance hits every command alike:

- `python -c "import pydantic"`: the baseline;
- `python -c "import tempest_sdk"` (target: at most 1.5x the baseline);
- `tempest-sdk --version` (the console script beside this interpreter, else
  `python -m tempest_sdk --version`);
- for context: an empty interpreter (`python -c pass`), the ratio with its start taken
  off both sides, and `from tempest_sdk import App`, the first use, which loads the app
  model and the wire models.

Run: python benchmarks/bench_import.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.5


def cli_command() -> list[str]:
    """`tempest-sdk` as installed beside this interpreter, or its `-m` form."""
    script = Path(sys.executable).with_name("tempest-sdk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tempest_sdk"]


COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import pydantic": [sys.executable, "-c", "import pydantic"],
    "import tempest_sdk": [sys.executable, "-c", "import tempest_sdk"],
    "tempest-sdk --version": [*cli_command(), "--version"],
    "from tempest_sdk import App": [sys.executable, "-c", "from tempest_sdk import App"],
}


def wall_time(command: list[str]) -> float:
    """Seconds from spawning `command` until it exits (successfully)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def medians(runs: int) -> dict[str, float]:
    """The median wall time of each command over `runs` round-robin rounds, after a warm-up
    round (which fills the OS file cache and writes any missing bytecode)."""
    for command in COMMANDS.values():
        wall_time(command)
    samples: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for _ in range(runs):
        for label, command in COMMANDS.items():
            samples[label].append(wall_time(command))
    return {label: statistics.median(times) for label, times in samples.items()}


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<32} {value:>10}  {note}")


def main(runs: int) -> int:
    print(
        f"bench_import: median of {runs} fresh interpreters each, interpreter start included, "
        f"Python {sys.version.split()[0]}"
    )
    m = medians(runs)
    start, pydantic, sdk = m["python -c pass"], m["import pydantic"], m["import tempest_sdk"]
    ratio = sdk / pydantic
    line("import pydantic", f"{pydantic * 1000:.1f} ms", "(baseline)")
    line("import tempest_sdk", f"{sdk * 1000:.1f} ms")
    line("ratio", f"{ratio:.2f}x", f"import tempest_sdk / import pydantic (target <= {TARGET}x)")
    line("tempest-sdk --version", f"{m['tempest-sdk --version'] * 1000:.1f} ms")
    print("\n  context:")
    line("python -c pass", f"{start * 1000:.1f} ms", "(interpreter start)")
    if pydantic > start:
        line(
            "ratio without interpreter start",
            f"{(sdk - start) / (pydantic - start):.2f}x",
            "(import tempest_sdk - start) / (import pydantic - start)",
        )
    line(
        "from tempest_sdk import App",
        f"{m['from tempest_sdk import App'] * 1000:.1f} ms",
        "(first use: the app model and the wire models)",
    )
    if ratio > TARGET:
        print(f"\nBELOW TARGET: import tempest_sdk is {ratio:.2f}x import pydantic, over {TARGET}x")
        return 1
    print("\nAll targets met.")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="interpreters per command")
    raise SystemExit(main(parser.parse_args().runs))
