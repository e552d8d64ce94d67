"""Runner options: defaults, validation, environment."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from pathlib import Path

import pytest

import tempest_sdk.runner as runner_ns
from tempest_sdk.runner import (
    RunnerConfigError,
    RunnerOptions,
    RunnerOptionsKwargs,
    options_from_env,
)


def test_public_names_are_pinned():
    assert runner_ns.__all__ == sorted(runner_ns.__all__)
    assert set(runner_ns.__all__) == {
        "AccessRefusedError",
        "Backoff",
        "GoneError",
        "InterceptedTask",
        "Interceptor",
        "Limits",
        "OpenTelemetry",
        "Probe",
        "PrometheusMetrics",
        "RejectedError",
        "RetryLaterError",
        "TaskSourceError",
        "ObservedRunner",
        "PollEvent",
        "PollOutcome",
        "ReportEvent",
        "ReportOutcome",
        "RunKwargs",
        "RunnableApp",
        "Runner",
        "RunnerConfigError",
        "RunnerHook",
        "RunnerSample",
        "RunnerOptions",
        "RunnerOptionsKwargs",
        "RunnerStartupError",
        "RunnerThread",
        "TaskCall",
        "TaskInfo",
        "TaskSource",
        "options_from_env",
        "run",
    }


def test_defaults():
    options = RunnerOptions()
    assert options.concurrency == 16
    # Upper bounds of calls in flight: adaptive below them.
    assert options.poller_limit == 16
    assert options.reporter_limit == 16
    assert options.task_timeout == 300.0
    assert options.poll_interval_max == 5.0
    assert options.shutdown_grace == 25.0
    assert options.health_interval == 300.0
    assert options.connect is False
    assert options.outbox is None
    assert RunnerOptions(concurrency=1).poller_limit == 1
    assert RunnerOptions(concurrency=64, reporters=8).reporter_limit == 8


def test_keyword_arguments_match_the_options():
    fields = {field.name for field in dataclasses.fields(RunnerOptions)}
    assert set(typing.get_type_hints(RunnerOptionsKwargs)) == fields


def test_run_keywords_are_those_of_run():
    # `App.run` takes `RunKwargs` and passes them on: they must be `run`'s keywords.
    parameters = inspect.signature(runner_ns.run).parameters
    keywords = {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    options = {field.name for field in dataclasses.fields(RunnerOptions)}
    assert set(runner_ns.RunKwargs.__optional_keys__) == keywords | options


def test_every_problem_is_reported_at_once():
    with pytest.raises(RunnerConfigError) as info:
        RunnerOptions(concurrency=0, task_timeout=-1, poll_interval_min=9, poll_interval_max=1)
    message = str(info.value)
    assert "concurrency must be an integer of at least 1, got 0" in message
    assert "task_timeout must be a number of seconds above 0, got -1" in message
    assert "poll_interval_min (9) must not exceed poll_interval_max (1)" in message


def test_invalid_values_are_refused():
    with pytest.raises(RunnerConfigError, match="pollers"):
        RunnerOptions(pollers=0)
    with pytest.raises(RunnerConfigError, match="concurrency"):
        RunnerOptions(concurrency=True)
    with pytest.raises(RunnerConfigError, match="shutdown_grace"):
        RunnerOptions(shutdown_grace=float("nan"))
    assert RunnerOptions(task_timeout=None).task_timeout is None
    assert RunnerOptions(shutdown_grace=0).shutdown_grace == 0


def test_outbox_accepts_a_string_and_hooks_a_list():
    options = RunnerOptions(outbox="/tmp/x", hooks=[])  # type: ignore[arg-type]
    assert options.outbox == Path("/tmp/x")
    assert options.hooks == ()


def test_options_from_env():
    env = {
        "TEMPEST_RUNNER_CONCURRENCY": " 32 ",
        "TEMPEST_RUNNER_TASK_TIMEOUT": "none",
        "TEMPEST_RUNNER_POLL_INTERVAL_MAX": "2.5",
        "TEMPEST_RUNNER_SHUTDOWN_GRACE": "10",
        "TEMPEST_RUNNER_HEALTH_INTERVAL": "60",
        "TEMPEST_RUNNER_CONNECT": "yes",
        "TEMPEST_RUNNER_OUTBOX": "/var/lib/app/outbox",
    }
    options = options_from_env(env)
    assert options.concurrency == 32
    assert options.task_timeout is None
    assert options.poll_interval_max == 2.5
    assert options.shutdown_grace == 10
    assert options.health_interval == 60
    assert options.connect is True
    assert options.outbox == Path("/var/lib/app/outbox")


def test_arguments_win_over_the_environment():
    options = options_from_env({"TEMPEST_RUNNER_CONCURRENCY": "32"}, concurrency=2)
    assert options.concurrency == 2


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TEMPEST_RUNNER_CONCURRENCY", "lots", "is not an integer"),
        ("TEMPEST_RUNNER_CONCURRENCY", "0", "concurrency must be an integer of at least 1"),
        ("TEMPEST_RUNNER_SHUTDOWN_GRACE", "soon", "is not a number of seconds"),
        ("TEMPEST_RUNNER_SHUTDOWN_GRACE", "inf", "finite"),
        ("TEMPEST_RUNNER_CONNECT", "maybe", "is not a boolean"),
    ],
)
def test_bad_environment_values_name_the_variable(name, value, expected):
    with pytest.raises(RunnerConfigError, match=expected) as info:
        options_from_env({name: value})
    if "must be" not in expected:
        assert name in str(info.value)


def test_unknown_option_suggests_the_close_one_and_lists_them_all():
    with pytest.raises(RunnerConfigError, match="unknown runner option") as info:
        options_from_env({}, concurency=3)
    assert "'concurency': did you mean 'concurrency'?" in str(info.value)
    assert "the options are concurrency, pollers," in str(info.value)
    with pytest.raises(RunnerConfigError, match=r"'zzz': the options are"):
        options_from_env({}, zzz=1)


def test_a_runner_with_an_unknown_option_says_which_and_suggests():
    from tempest_sdk.runner import Runner

    from .fakes import FakeApp, FakeSource

    with pytest.raises(RunnerConfigError, match=r"'grace': the options are"):
        Runner(FakeApp(), FakeSource(), grace=3)  # type: ignore[call-arg]
    with pytest.raises(RunnerConfigError, match=r"did you mean 'task_timeout'"):
        Runner(FakeApp(), FakeSource(), task_timout=3)  # type: ignore[call-arg]
