"""Runner options, their defaults, and how they are read from the environment."""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from .._backoff import Backoff
from .._recordings import normalized_filter
from ._errors import RunnerConfigError
from ._gc import auto_threshold
from ._hooks import Interceptor
from ._outbox import DEFAULT_MAX_BYTES, DEFAULT_MAX_REPORTS
from ._record import DEFAULT_RECORD_FILES, DEFAULT_RECORD_MAX_BYTES

__all__ = [
    "ENV_PREFIX",
    "RunnerOptions",
    "RunnerOptionsKwargs",
    "connection_limit",
    "options_from_env",
    "parse_address",
    "pool_keywords",
]

ENV_PREFIX = "TEMPEST_RUNNER_"


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """How a `Runner` schedules, retries, times out and shuts down.

    Args:
        concurrency: the most tasks in flight at once, over every app version served.
        pollers: the most `next` calls in flight per app version; default
            `concurrency`. Calls in flight adapt: they grow while calls bring tasks
            and slots are free, and shrink to one scout when calls come back empty.
        reporters: the most `report` calls in flight, over all app versions; default
            `concurrency`. Every pending report is sent at once, up to this bound.
        task_timeout: seconds a task may run before it is cancelled and reported as timed
            out (`None`: no limit). A resource or handler `timeout=` overrides it.
        poll_interval_min: the first pause after an empty `next`, in seconds.
        poll_interval_max: the longest pause between empty `next` calls, in seconds.
        retry_backoff: delays between retries of failed `next` and `report` calls.
        shutdown_grace: seconds in-flight tasks may take to finish once a stop is asked.
        flush_timeout: seconds to keep delivering pending reports after the drain.
        health_interval: seconds between health reports (the first goes out at start).
        health_timeout: seconds each health check may take.
        connect: declare each app version (`apps.version.connect`) before serving it.
        outbox: a directory where finished reports are kept until acknowledged, so they
            survive a crash; `None` keeps them in memory only.
        outbox_max_reports: the most reports the outbox keeps at once.
        outbox_max_bytes: the most bytes the outbox's files take on disk (each rounded
            up to 4 KiB). At either bound, reports are delivered from memory only,
            until acknowledged reports make room.
        dedup_size: how many reported tasks are remembered to answer redeliveries.
        blocked_loop_warning: warn when the event loop was blocked this many seconds
            (an async handler calling blocking code); `None` disables the check.
        hooks: the interceptors (`Interceptor`, formerly `RunnerHook`) around tasks,
            polls and reports, the first outermost.
        operations_address: serve the operations endpoint (`/livez`, `/readyz`,
            `/metrics`) on `"HOST:PORT"`; a port alone (`"8081"` or `":8081"`) listens on
            127.0.0.1 only, so in a container use `"0.0.0.0:8081"`. `None`: off.
        until_idle: a one-shot run: stop once the queue is empty, i.e. no task came
            for `idle_after` seconds after the last one ended (and every app version's
            last `next` found nothing), then drain and deliver the reports. `run()`
            then exits with status 1 when any report was an error (or could not be
            delivered); `Runner.run()` returns, and its counts say how it went.
        idle_after: the quiet period of `until_idle`, in seconds (default 10: at
            least two `next` calls at the longest `poll_interval_max` pause).
        record: a file where each served task and the report it got are recorded, one
            JSON line each, secrets masked, for `tempest-sdk replay`; `None` (the
            default): off. Recording never holds a task back: when the disk cannot keep
            up, records are dropped (counted, with a warning).
        record_only: which tasks to record, e.g. `"errors"`, `"type=dashboard"`,
            `"operation=create|update,errors"` (see the docs' "Debugging production
            tasks"); `None`: every task.
        record_sample: the share of those tasks recorded, above 0 and at most 1.
        record_max_bytes: the most bytes a record file holds before it is rotated.
        record_files: how many record files are kept, the current one included
            (`FILE`, `FILE.1`, ...): at most `record_max_bytes * record_files` on disk.
        log_format: for `run()` only, which sets up the process's logging when asked:
            `"text"` or `"json"` (one JSON object a line, see `JsonLogFormatter`) on
            stderr, the SDK's records from INFO; `None` leaves logging to the program.
            A `Runner` embedded in another program ignores it.
        gc_threshold: the young generation's garbage-collection threshold (Python's
            `gc` threshold0) while the runner serves: `"auto"` (the default) is 200
            per slot of `concurrency`, at least Python's 700 and at most 100,000; an
            integer raises it to at least that; `None` leaves the collector alone. It
            is never lowered, left alone while the program has the collector off,
            and given back when the runner stops: at high concurrency the default
            700 walks the live objects of every task in flight again and again, up
            to a fifth of the runner's CPU (see the docs' "Runner").
    """

    concurrency: int = 16
    pollers: int | None = None
    reporters: int | None = None
    task_timeout: float | None = 300.0
    poll_interval_min: float = 0.1
    poll_interval_max: float = 5.0
    retry_backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=10.0))
    shutdown_grace: float = 25.0
    flush_timeout: float = 5.0
    health_interval: float = 300.0
    health_timeout: float = 30.0
    connect: bool = False
    outbox: Path | None = None
    outbox_max_reports: int = DEFAULT_MAX_REPORTS
    outbox_max_bytes: int = DEFAULT_MAX_BYTES
    dedup_size: int = 4096
    blocked_loop_warning: float | None = 1.0
    hooks: tuple[Interceptor, ...] = ()
    operations_address: str | None = None
    until_idle: bool = False
    idle_after: float = 10.0
    record: Path | None = None
    record_only: str | None = None
    record_sample: float = 1.0
    record_max_bytes: int = DEFAULT_RECORD_MAX_BYTES
    record_files: int = DEFAULT_RECORD_FILES
    log_format: Literal["text", "json"] | None = None
    gc_threshold: int | Literal["auto"] | None = "auto"

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in (
            "concurrency",
            "dedup_size",
            "outbox_max_reports",
            "outbox_max_bytes",
            "record_max_bytes",
            "record_files",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be an integer of at least 1, got {value!r}")
        for name in ("pollers", "reporters"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                problems.append(f"{name} must be None or an integer of at least 1, got {value!r}")
        positive = [
            "poll_interval_min",
            "poll_interval_max",
            "health_interval",
            "health_timeout",
            "idle_after",
        ]
        optional_positive = ["task_timeout", "blocked_loop_warning"]
        for name in positive + optional_positive:
            value = getattr(self, name)
            if value is None and name in optional_positive:
                continue
            if not _is_number(value) or not value > 0:
                problems.append(f"{name} must be a number of seconds above 0, got {value!r}")
        for name in ("shutdown_grace", "flush_timeout"):
            value = getattr(self, name)
            if not _is_number(value) or not value >= 0:
                problems.append(f"{name} must be a number of seconds of at least 0, got {value!r}")
        if (
            _is_number(self.poll_interval_min)
            and _is_number(self.poll_interval_max)
            and self.poll_interval_min > self.poll_interval_max
        ):
            problems.append(
                f"poll_interval_min ({self.poll_interval_min}) must not exceed "
                f"poll_interval_max ({self.poll_interval_max})"
            )
        if not isinstance(self.retry_backoff, Backoff):
            problems.append(
                f"retry_backoff must be a tempest_sdk.runner.Backoff, got {self.retry_backoff!r}"
            )
        if self.outbox is not None and not isinstance(self.outbox, Path):
            object.__setattr__(self, "outbox", Path(self.outbox))
        if self.record is not None and not isinstance(self.record, Path):
            object.__setattr__(self, "record", Path(self.record))
        if not _is_number(self.record_sample) or not 0 < self.record_sample <= 1:
            problems.append(
                f"record_sample must be a number above 0 and at most 1, got {self.record_sample!r}"
            )
        try:
            object.__setattr__(self, "record_only", normalized_filter(self.record_only))
        except ValueError as exc:
            problems.append(f"record_only: {exc}")
        if not isinstance(self.hooks, tuple):
            object.__setattr__(self, "hooks", tuple(self.hooks))
        for index, hook in enumerate(self.hooks):
            if not isinstance(hook, Interceptor):
                problems.append(
                    f"hooks[{index}] must be a tempest_sdk.runner.Interceptor (subclass it), "
                    f"got {type(hook).__name__}"
                )
        if not isinstance(self.until_idle, bool):
            problems.append(f"until_idle must be True or False, got {self.until_idle!r}")
        if self.log_format not in (None, "text", "json"):
            problems.append(f"log_format must be 'text', 'json' or None, got {self.log_format!r}")
        threshold = self.gc_threshold
        if threshold not in (None, "auto") and (
            isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1
        ):
            problems.append(
                f"gc_threshold must be 'auto', None (leave Python's collector alone) or an "
                f"integer of at least 1, got {threshold!r}"
            )
        if self.operations_address is not None:
            try:
                parse_address(self.operations_address)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise RunnerConfigError("invalid runner options: " + "; ".join(problems))

    @property
    def poller_limit(self) -> int:
        """The most `next` calls in flight per app version."""
        return self.pollers if self.pollers is not None else self.concurrency

    @property
    def reporter_limit(self) -> int:
        """The most `report` calls in flight."""
        return self.reporters if self.reporters is not None else self.concurrency

    @property
    def young_gc_threshold(self) -> int | None:
        """The least young-generation threshold the runner holds while it serves, or
        None to leave the collector alone."""
        if self.gc_threshold == "auto":
            return auto_threshold(self.concurrency)
        return self.gc_threshold

    @property
    def operations_bind(self) -> tuple[str, int] | None:
        """`(host, port)` of the operations endpoint, or None when it is off."""
        if self.operations_address is None:
            return None
        return parse_address(self.operations_address)

    def replace(self, **changes: Any) -> RunnerOptions:
        """A copy with some options changed.

        Raises:
            RunnerConfigError: an option is unknown (the message suggests the close
                one) or a value is invalid.
        """
        _check_known(changes)
        return dataclasses.replace(self, **changes)


class RunnerOptionsKwargs(TypedDict, total=False):
    """The options of `RunnerOptions`, as keyword arguments of `Runner` and `run`."""

    concurrency: int
    pollers: int | None
    reporters: int | None
    task_timeout: float | None
    poll_interval_min: float
    poll_interval_max: float
    retry_backoff: Backoff
    shutdown_grace: float
    flush_timeout: float
    health_interval: float
    health_timeout: float
    connect: bool
    outbox: str | os.PathLike[str] | None
    outbox_max_reports: int
    outbox_max_bytes: int
    dedup_size: int
    blocked_loop_warning: float | None
    hooks: Sequence[Interceptor]
    operations_address: str | None
    until_idle: bool
    idle_after: float
    record: str | os.PathLike[str] | None
    record_only: str | Sequence[str] | None
    record_sample: float
    record_max_bytes: int
    record_files: int
    log_format: Literal["text", "json"] | None
    gc_threshold: int | Literal["auto"] | None


# Variable suffix -> (option, parser). Only simple, deployment-level knobs are read
# from the environment; hooks and backoff policies are code.
def _env_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise RunnerConfigError(f"{name}={raw!r} is not an integer (example: {name}=16)") from None


def _env_seconds(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise RunnerConfigError(
            f"{name}={raw!r} is not a number of seconds (example: {name}=30)"
        ) from None
    if not math.isfinite(value):
        raise RunnerConfigError(f"{name}={raw!r} must be a finite number of seconds")
    return value


def _env_optional_seconds(name: str, raw: str) -> float | None:
    if raw.strip().lower() in {"none", "off", "0"}:
        return None
    return _env_seconds(name, raw)


def _env_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise RunnerConfigError(f"{name}={raw!r} is not a boolean (use 1/true/yes or 0/false/no)")


_BINARY_UNITS = {"ki": 2**10, "mi": 2**20, "gi": 2**30}


def _env_bytes(name: str, raw: str) -> int:
    text = raw.strip()
    unit = _BINARY_UNITS.get(text[-2:].lower(), 1)
    digits = text[:-2] if unit > 1 else text
    if not digits.strip().isdigit():
        raise RunnerConfigError(
            f"{name}={raw!r} is not a number of bytes (examples: {name}=66060288, {name}=63Mi)"
        )
    return int(digits) * unit


def _env_path(name: str, raw: str) -> Path | None:
    return Path(raw) if raw.strip() else None


def _env_log_format(name: str, raw: str) -> str | None:
    value = raw.strip().lower()
    if value in {"text", "json"}:
        return value
    if not value:
        return None
    raise RunnerConfigError(f"{name}={raw!r} is not a log format (use {name}=text or json)")


def _env_fraction(name: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise RunnerConfigError(
            f"{name}={raw!r} is not a number (a share of the tasks, e.g. {name}=0.1)"
        ) from None


def _env_filter(name: str, raw: str) -> str | None:
    try:
        return normalized_filter(raw)
    except ValueError as exc:
        raise RunnerConfigError(f"{name}={raw!r}: {exc}") from None


def _env_gc_threshold(name: str, raw: str) -> int | Literal["auto"] | None:
    text = raw.strip().lower()
    if text == "auto":
        return "auto"
    if text in ("off", "none"):
        return None
    if text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    raise RunnerConfigError(
        f"{name}={raw!r} is not 'auto', 'off' or a whole number of at least 1 "
        f"(example: {name}=50000)"
    )


def _env_address(name: str, raw: str) -> str | None:
    value = raw.strip()
    if value.lower() in {"", "off", "none"}:
        return None
    try:
        parse_address(value)
    except ValueError as exc:
        raise RunnerConfigError(f"{name}={raw!r}: {exc}") from None
    return value


def parse_address(address: str) -> tuple[str, int]:
    """`(host, port)` of `"HOST:PORT"`, `":PORT"` or `"PORT"` (host 127.0.0.1);
    IPv6 hosts in brackets (`"[::1]:8081"`).

    Raises:
        ValueError: not such an address (the message shows the accepted forms).
    """
    text = str(address).strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    valid = (
        port_text.isascii()
        and port_text.isdigit()
        and 0 <= int(port_text) <= 65535
        and (bracketed or ":" not in host)  # an IPv6 address needs its brackets
        and not any(c.isspace() for c in host)
    )
    if not valid:
        raise ValueError(
            f"operations_address must be HOST:PORT, :PORT or PORT (port 0-65535; e.g. "
            f"0.0.0.0:8081 in a container, [::1]:8081 for IPv6), got {address!r}"
        )
    port = int(port_text)
    return host or "127.0.0.1", port


_ENV_OPTIONS: dict[str, tuple[str, Any]] = {
    "CONCURRENCY": ("concurrency", _env_int),
    "TASK_TIMEOUT": ("task_timeout", _env_optional_seconds),
    "POLL_INTERVAL_MAX": ("poll_interval_max", _env_seconds),
    "SHUTDOWN_GRACE": ("shutdown_grace", _env_seconds),
    "HEALTH_INTERVAL": ("health_interval", _env_seconds),
    "CONNECT": ("connect", _env_bool),
    "OUTBOX": ("outbox", _env_path),
    "OUTBOX_MAX_REPORTS": ("outbox_max_reports", _env_int),
    "OUTBOX_MAX_BYTES": ("outbox_max_bytes", _env_bytes),
    "OPERATIONS_ADDRESS": ("operations_address", _env_address),
    "UNTIL_IDLE": ("until_idle", _env_bool),
    "IDLE_AFTER": ("idle_after", _env_seconds),
    "RECORD": ("record", _env_path),
    "RECORD_ONLY": ("record_only", _env_filter),
    "RECORD_SAMPLE": ("record_sample", _env_fraction),
    "RECORD_MAX_BYTES": ("record_max_bytes", _env_bytes),
    "RECORD_FILES": ("record_files", _env_int),
    "LOG_FORMAT": ("log_format", _env_log_format),
    "GC_THRESHOLD": ("gc_threshold", _env_gc_threshold),
}


def options_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> RunnerOptions:
    """Build options from `TEMPEST_RUNNER_*` variables; keyword arguments win over them.

    Read variables: `TEMPEST_RUNNER_CONCURRENCY`, `_TASK_TIMEOUT` (`none` disables),
    `_POLL_INTERVAL_MAX`, `_SHUTDOWN_GRACE`, `_HEALTH_INTERVAL`, `_CONNECT` (`1`/`0`),
    `_OUTBOX` (a directory), `_OUTBOX_MAX_REPORTS`, `_OUTBOX_MAX_BYTES` (bytes, or with
    `Ki`/`Mi`/`Gi`), `_OPERATIONS_ADDRESS` (`HOST:PORT`; `off`), `_UNTIL_IDLE` (`1`/`0`),
    `_IDLE_AFTER` (seconds), `_RECORD` (a file), `_RECORD_ONLY` (`errors,type=NAME`),
    `_RECORD_SAMPLE` (`0.1`), `_RECORD_MAX_BYTES`, `_RECORD_FILES`, `_LOG_FORMAT`
    (`text` or `json`), `_GC_THRESHOLD` (`auto`, `off` or a number).

    Raises:
        RunnerConfigError: a variable or option has an invalid value.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for suffix, (option, parse) in _ENV_OPTIONS.items():
        name = ENV_PREFIX + suffix
        raw = env.get(name)
        if raw is not None:
            values[option] = parse(name, raw)
    values.update(overrides)
    _check_known(values)
    return RunnerOptions(**values)


def _check_known(options: Mapping[str, Any]) -> None:
    known = [field.name for field in dataclasses.fields(RunnerOptions)]
    problems = []
    for name in options:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                f"unknown runner option {name!r}: {hint}the options are {', '.join(known)}"
            )
    if problems:
        raise RunnerConfigError("; ".join(problems))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# -- connections follow concurrency -------------------------------------------------------

# Connections beyond the runner's own calls: `connect` calls at start, and calls the
# program makes through the runner's client.
CONNECTION_MARGIN = 4
MAX_CONNECTIONS_ENV = "TEMPEST_MAX_CONNECTIONS"


def connection_limit(options: RunnerOptions, versions: int) -> int:
    """The connections a runner's own client needs: one for every call the runner may
    have in flight at once.

    That is `pollers` `next` calls per app version, `reporters` `report` calls, one
    health report per app version, and a margin of `CONNECTION_MARGIN` (connect calls,
    the program's own calls). A smaller pool caps throughput whatever `concurrency`
    says: each task needs a `next` and a `report`, so `n` connections at a round trip
    of `L` seconds carry at most `n / (2 L)` tasks a second (100 at 100 ms: 500/s).

    Args:
        options: the runner's options.
        versions: how many app versions the runner serves.
    """
    return versions * options.poller_limit + options.reporter_limit + versions + CONNECTION_MARGIN


def pool_keywords(
    options: RunnerOptions,
    versions: int,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The keyword arguments that size the pool of an `AsyncTempestClient` the runner
    builds itself: `{"max_connections": connection_limit(...)}`, or nothing when the
    user chose the size with `TEMPEST_MAX_CONNECTIONS` (the client reads it).
    """
    env = os.environ if environ is None else environ
    if env.get(MAX_CONNECTIONS_ENV, "").strip():
        return {}
    return {"max_connections": connection_limit(options, versions)}
