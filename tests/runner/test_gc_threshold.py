"""The young generation's GC threshold follows concurrency while a runner serves, and is
given back; the program's own choices stand. On asyncio, trio and uvloop."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import ExitStack

import anyio
import pytest

from tempest_sdk.runner import (
    Runner,
    RunnerConfigError,
    RunnerOptions,
    RunnerStartupError,
    options_from_env,
)
from tempest_sdk.runner._gc import AUTO_MOST, auto_threshold, young_threshold

from .fakes import BACKENDS, FakeApp, FakeSource, make_task, run_on, wait_until


@pytest.fixture(autouse=True)
def _python_default() -> Iterator[None]:
    """Each test starts from Python's own setting and leaves the process as it was."""
    saved, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(700, 10, 10)
    gc.enable()
    yield
    gc.set_threshold(*saved)
    if not enabled:
        gc.disable()


def test_auto_is_200_a_slot_between_python_default_and_the_ceiling():
    assert auto_threshold(1) == 700
    assert auto_threshold(16) == 3_200
    assert auto_threshold(256) == 51_200
    assert auto_threshold(10_000) == AUTO_MOST == 100_000
    assert RunnerOptions(concurrency=64).young_gc_threshold == 12_800
    assert RunnerOptions(concurrency=64, gc_threshold=5_000).young_gc_threshold == 5_000
    assert RunnerOptions(concurrency=64, gc_threshold=None).young_gc_threshold is None


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "fast"])
def test_a_bad_threshold_is_refused_with_what_to_give(bad):
    with pytest.raises(RunnerConfigError, match="gc_threshold must be 'auto', None") as caught:
        RunnerOptions(gc_threshold=bad)
    assert repr(bad) in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("auto", "auto"), (" AUTO ", "auto"), ("off", None), ("none", None), ("50000", 50_000)],
)
def test_the_variable_takes_auto_off_or_a_number(raw, expected):
    options = options_from_env({"TEMPEST_RUNNER_GC_THRESHOLD": raw})
    assert options.gc_threshold == expected


@pytest.mark.parametrize("raw", ["0", "-5", "1e5", "lots", ""])
def test_a_bad_variable_names_itself_and_an_example(raw):
    with pytest.raises(RunnerConfigError) as caught:
        options_from_env({"TEMPEST_RUNNER_GC_THRESHOLD": raw})
    message = str(caught.value)
    assert f"TEMPEST_RUNNER_GC_THRESHOLD={raw!r}" in message
    assert "TEMPEST_RUNNER_GC_THRESHOLD=50000" in message


def test_raised_inside_and_given_back_after():
    with young_threshold(20_000):
        assert gc.get_threshold() == (20_000, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_none_leaves_the_collector_alone():
    with young_threshold(None):
        assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_the_program_set_is_kept():
    gc.set_threshold(200_000, 5, 5)
    with young_threshold(20_000):
        assert gc.get_threshold() == (200_000, 5, 5)
    assert gc.get_threshold() == (200_000, 5, 5)


def test_a_collector_the_program_turned_off_stays_as_it_is():
    gc.disable()
    with young_threshold(20_000):
        assert gc.get_threshold()[0] == 700
        assert not gc.isenabled()
    # The other way to turn it off: enabled, with a threshold of 0.
    gc.enable()
    gc.set_threshold(0)
    with young_threshold(20_000):
        assert gc.get_threshold()[0] == 0


def test_a_change_the_program_made_while_serving_stands():
    with young_threshold(20_000):
        gc.set_threshold(1_000)
    assert gc.get_threshold()[0] == 1_000


def test_a_value_the_program_set_between_two_runners_is_the_one_given_back():
    with young_threshold(20_000):
        gc.set_threshold(30_000)
        with young_threshold(50_000):
            assert gc.get_threshold()[0] == 50_000
        assert gc.get_threshold()[0] == 30_000
    assert gc.get_threshold()[0] == 30_000


def test_overlapping_runners_keep_the_highest_and_the_last_gives_back():
    with ExitStack() as low:
        low.enter_context(young_threshold(20_000))
        with young_threshold(50_000):
            assert gc.get_threshold()[0] == 50_000
        assert gc.get_threshold()[0] == 20_000  # the one still serving keeps its own
    assert gc.get_threshold()[0] == 700
    # Ending in the other order: the higher one stays while it serves.
    low, high = ExitStack(), ExitStack()
    low.enter_context(young_threshold(20_000))
    high.enter_context(young_threshold(50_000))
    low.close()
    assert gc.get_threshold()[0] == 50_000
    high.close()
    assert gc.get_threshold()[0] == 700


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("gc_threshold", "serving"),
    [("auto", 12_800), (30_000, 30_000), (None, 700)],
)
def test_a_runner_sets_it_while_serving_and_gives_it_back(backend, gc_threshold, serving):
    seen: list[int] = []

    async def scenario() -> None:
        source = FakeSource()
        source.push("shop", "v1", make_task("t1"))
        runner = Runner(
            FakeApp(), source, concurrency=64, gc_threshold=gc_threshold, health_interval=3600.0
        )
        async with anyio.create_task_group() as group:
            group.start_soon(runner.run)
            await wait_until(lambda: len(source.acked) == 1, "the task reported")
            seen.append(gc.get_threshold()[0])
            await runner.shutdown()
        seen.append(gc.get_threshold()[0])

    run_on(backend, scenario)
    assert seen == [serving, 700]


def test_a_runner_that_fails_to_start_gives_it_back():
    async def scenario() -> None:
        source = FakeSource()
        source.connect_error = RuntimeError("refused")
        runner = Runner(FakeApp(), source, connect=True, health_interval=3600.0)
        with pytest.raises(RunnerStartupError, match="cannot connect"):
            await runner.run()

    anyio.run(scenario)
    assert gc.get_threshold()[0] == 700
