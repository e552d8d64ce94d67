"""The steps of an emulator run: planning them, running them with progress, the table."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from ._errors import CLIError
from ._term import Out, Progress

if TYPE_CHECKING:
    from .. import App
    from ..emulator import Emulator
    from ..testing import Step, StepResult

__all__ = ["plan_steps", "print_results", "run_with_progress"]


def plan_steps(args: argparse.Namespace, apps: Sequence[App]) -> list[Step]:
    """The steps of an emulator run: the `--tasks` file's, or one per capability.

    Raises:
        CLIError: the tasks file cannot be read or names what the apps lack.
    """
    from ..testing import default_steps, load_steps

    try:
        if args.tasks:
            return load_steps(args.tasks, apps)
        return [s for a in apps for s in default_steps(a)]
    except ValueError as exc:
        raise CLIError(str(exc)) from None


async def run_with_progress(
    emulator: Emulator,
    steps: Sequence[Step],
    *,
    apps: Sequence[App],
    act_on_existing: bool,
    progress: Progress | None = None,
) -> list[StepResult]:
    """`run_steps`, with a live status line on a terminal (erased when it returns)."""
    from ..testing import run_steps

    progress = progress if progress is not None else Progress()
    with progress.logging_cleared():
        async with anyio.create_task_group() as group:
            if progress.enabled:
                # Taken now: run_steps enqueues its first task before _track starts.
                before = {*emulator.queued(), *emulator.leased(), *emulator.reported()}
                group.start_soon(_track, emulator, progress, len(steps), before)
            results = await run_steps(emulator, steps, apps=apps, act_on_existing=act_on_existing)
            group.cancel_scope.cancel()
    return results


async def _track(emulator: Emulator, progress: Progress, planned: int, before: set[str]) -> None:
    """Show what the emulator's tasks but those `before` are doing, until cancelled."""
    started = time.monotonic()
    failed: dict[str, bool] = {}
    while True:
        running = sum(t not in before for t in emulator.leased())
        queued = sum(t not in before for t in emulator.queued())
        for task_id in emulator.reported():
            if task_id not in before and task_id not in failed:
                reports = emulator.reports(task_id)
                failed[task_id] = bool(reports) and reports[0].get("status") != "ok"
        done = len(failed)
        # Clean-up deletes come on top of the planned steps.
        total = max(planned, done + running + queued)
        line = f"{done}/{total} done · {running} running · {sum(failed.values())} failed"
        progress.show(f"{line} · {time.monotonic() - started:.1f} s")
        await anyio.sleep(0.1)


def print_results(out: Out, results: Sequence[StepResult], *, json_output: bool) -> None:
    """The results of a run: a table and a summary line, or JSON."""
    # The steps' secrets left the process with their tasks: masked by name here.
    out = out.with_secrets(v for r in results for v in r.step.secrets.values())
    if json_output:
        out.json([r.to_json() for r in results])
        return
    colours = {"ok": "green", "error": "red", "skipped": "yellow"}
    out.table(
        ["TASK", "STATUS", "DURATION", "WAIT", "MESSAGE"],
        [
            [
                r.step.label,
                out.style(r.status, colours.get(r.status, "red")),
                f"{r.duration * 1000:.1f} ms",
                f"{r.wait * 1000:.1f} ms",
                # Cut to a line on a terminal; whole where it is kept (a CI log).
                _short(out.mask(r.message)) if out.is_terminal else out.mask(r.message),
            ]
            for r in results
        ],
    )
    ok = sum(r.ok for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    failed = sum(r.failed for r in results)
    out.line()
    summary = f"{ok}/{len(results)} tasks reported ok"
    if skipped:
        summary += f", {skipped} skipped"
    if failed:
        summary += f", {failed} failed"
    out.line(out.style(summary, "red" if failed else "green", "bold"))


def _short(message: str, width: int = 60) -> str:
    line = " ".join(message.split())
    return line if len(line) <= width else line[: width - 1] + "…"
