"""`serve --reload`: a supervisor process that restarts the serving process on changes.

The process model is uvicorn's: this process never imports the user's code (module
reloading in one process keeps stale objects alive). It watches the app's files with
watchfiles and runs the apps in a child process: a plain `serve` with a handshake. The
child imports the apps, prints a ready line carrying their connect payloads, and
serves once it reads `go` on stdin. On a change, a new child loads the new code
first; only once it has loaded does the previous child get SIGTERM, drain its running
tasks within the runner's grace period and exit, and the new one start serving. New
code that fails to import leaves the previous child serving until the next change.

With `--emulator`, the emulator lives in this process, so queued tasks and recorded
reports survive restarts; this process enqueues each run's tasks (at start and after
every reload) and prints their results. The children serve it as they would Tempest.

Children run in their own session, so a Ctrl-C at the terminal reaches this process
only, which stops them once, gracefully. A child whose stdin closes (this process is
gone, even killed) stops itself the same way.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import anyio
import anyio.abc

from ._errors import CLIError
from ._load import _split as split_reference
from ._term import Out, Progress

if TYPE_CHECKING:
    from .. import App
    from ..emulator import Emulator
    from ..models import ConnectRequest

__all__ = [
    "OUTBOX_ENV",
    "WATCHED_SUFFIXES",
    "child_command",
    "outbox_of",
    "supervise",
    "wait_for_go",
]

# What an app is made of: its code, and the schema and data files it may load.
WATCHED_SUFFIXES = (".py", ".json", ".yaml", ".yml")
OUTBOX_ENV = "TEMPEST_RUNNER_OUTBOX"
_READY = "@@tempest-sdk-reload:ready@@"
# Seconds a stopped child may take beyond the runner's grace and flush before it is killed.
_STOP_MARGIN = 10.0


def wait_for_go(apps: Sequence[App]) -> bool:
    """In a child: say the apps loaded, then wait for the supervisor's word.

    Returns:
        True to serve; False when the supervisor dropped this child (newer code came).
    """
    payloads = [app.describe().to_wire() for app in apps]
    sys.stdout.write(f"{_READY}{json.dumps(payloads)}\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        return False
    threading.Thread(target=_stop_with_supervisor, name="tempest-sdk-reload", daemon=True).start()
    return True


def _stop_with_supervisor() -> None:
    # The supervisor holds the other end of stdin: end of file means it is gone. In a
    # session of its own, this child would otherwise serve on, orphaned.
    sys.stdin.read()
    os.kill(os.getpid(), signal.SIGTERM)


def supervise(args: argparse.Namespace) -> int:
    """Run `serve --reload` until SIGINT or SIGTERM; return the exit code.

    Raises:
        CLIError: watchfiles is missing, or an app reference names no file.
    """
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise CLIError(
            "--reload needs watchfiles: pip install 'tempest-sdk[reload]' (or watchfiles)"
        ) from None
    roots = watch_roots(args.apps)
    outbox = outbox_of(args.outbox)
    ignored = [outbox] if outbox is not None else []
    supervisor = _Supervisor(args, roots, ignored)
    code: int = anyio.run(supervisor.run)
    return code


def outbox_of(flag: str | None) -> Path | None:
    """The outbox the children will write, however it is set: `--outbox`, else
    `TEMPEST_RUNNER_OUTBOX` (as the runner reads them; a relative path is the working
    folder's, which the children share). Its files change with every report, so it is
    never watched: watching it would reload on every task.
    """
    raw = flag if flag else os.environ.get(OUTBOX_ENV, "")
    if not raw.strip():
        return None  # the runner keeps no outbox by default
    return Path(raw).resolve()


def watch_roots(references: Iterable[str]) -> list[Path]:
    """The folders to watch: each app file's own, the working directory for modules.

    Raises:
        CLIError: a reference is malformed or names a file that does not exist.
    """
    roots: list[Path] = []
    for reference in references:
        target, _ = split_reference(reference)
        if target.endswith(".py") or "/" in target or "\\" in target:
            path = Path(target)
            if not path.is_file():
                raise CLIError(f"no such file: {target!r} (from app reference {reference!r})")
            root = path.resolve().parent
        else:
            root = Path.cwd().resolve()
        if root not in roots:
            roots.append(root)
    # A folder inside another is watched already (watching is recursive).
    return [r for r in roots if not any(o != r and o in r.parents for o in roots)]


def child_command(argv: Sequence[str]) -> list[str]:
    """The command that runs `tempest-sdk ARGV` in a child on this very SDK.

    Not `python -m tempest_sdk`: that puts the working folder first on `sys.path`, so a
    `./tempest_sdk/` there (a checkout, a vendored copy, a folder of that name) would
    run instead. `-P` (Python 3.11+) leaves the working folder out; the folder this SDK
    was imported from is added, last, only if nothing else provides the SDK. The app's
    own modules are found as before: loading a `module:attr` reference puts the
    working folder on the path once the SDK is imported.
    """
    sdk_parent = str(Path(__file__).resolve().parents[2])
    bootstrap = (
        "import importlib.util, sys\n"
        f"if importlib.util.find_spec('tempest_sdk') is None: sys.path.append({sdk_parent!r})\n"
        "from tempest_sdk._cli import main\n"
        "raise SystemExit(main())\n"
    )
    return [sys.executable, "-P", "-c", bootstrap, *argv]


def _watch_filter(ignored: Sequence[Path]) -> Callable[[Any, str], bool]:
    import watchfiles

    default = watchfiles.DefaultFilter()  # skips .git, __pycache__, virtualenvs, ...
    skip = [str(p) for p in ignored]

    def accept(change: Any, path: str) -> bool:
        if not path.endswith(WATCHED_SUFFIXES):
            return False
        if any(path == p or path.startswith(p + os.sep) for p in skip):
            return False
        return default(change, path)

    return accept


class _Child:
    """One serving process and what the supervisor knows of it."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.payloads: list[dict[str, Any]] = []
        self.ready = anyio.Event()
        self.exited = anyio.Event()
        self.streams_closed = 0
        self.streams_done = anyio.Event()
        self.stopping = False

    def send(self, signum: signal.Signals) -> None:
        with suppress(ProcessLookupError):  # it has just exited
            self.process.send_signal(signum)

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            self.process.kill()


class _Described:
    """An app known by its connect payload: the supervisor never imports the app."""

    def __init__(self, payload: ConnectRequest) -> None:
        self.app_id = payload.app_id
        self.version = payload.version
        self._payload = payload

    def describe(self) -> ConnectRequest:
        return self._payload


class _Supervisor:
    def __init__(self, args: argparse.Namespace, roots: list[Path], ignored: list[Path]) -> None:
        self.args = args
        self.roots = roots
        self.ignored = ignored
        self.out = Out()
        self.emulator: Emulator | None = None
        if args.emulator:
            from ..emulator import Emulator

            self.emulator = Emulator()
        self._stop_times: tuple[float, float] | None = None
        self.active: _Child | None = None
        self.changed = anyio.Event()
        self.run_wanted = anyio.Event()
        self.stop_watching = anyio.Event()
        self.stop_requested = anyio.Event()
        self.run_scope: anyio.CancelScope | None = None
        self.progress: Progress | None = None
        self.group: anyio.abc.TaskGroup | None = None
        self.json_logs = _json_formatter()

    @property
    def grace(self) -> float:
        """The runner's shutdown grace, as the children read it."""
        return self.stop_times[0]

    @property
    def stop_times(self) -> tuple[float, float]:
        # Read on first use: the runner's options load pydantic, which a supervisor
        # without the emulator needs for nothing else, and its first child starts sooner.
        if self._stop_times is None:
            self._stop_times = _stop_times()
        return self._stop_times

    # -- the whole life ---------------------------------------------------------------

    async def run(self) -> int:
        async with AsyncExitStack() as stack:
            if self.emulator is not None:
                await stack.enter_async_context(self.emulator.serve())
            async with anyio.create_task_group() as group:
                self.group = group
                self._announce()
                group.start_soon(self._signals)
                group.start_soon(self._watch)
                work = anyio.CancelScope()
                group.start_soon(self._work, work)
                await self.stop_requested.wait()
                work.cancel()
                self.stop_watching.set()
                await self._stop_all()
                group.cancel_scope.cancel()
        return 0

    async def _work(self, scope: anyio.CancelScope) -> None:
        with scope:
            async with anyio.create_task_group() as group:
                if self.emulator is not None:
                    group.start_soon(self._runs)
                await self._load()
                while True:
                    await self.changed.wait()
                    self.changed = anyio.Event()
                    await self._load()

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if not self.stop_requested.is_set():
                    name = signal.Signals(signum).name
                    self._notice(f"{name} received: stopping (send it again to stop at once)")
                    self.stop_requested.set()
                elif self.active is not None:
                    self._notice("stopping at once")
                    # The runner stops at once on a second signal.
                    self.active.send(signal.SIGTERM)

    async def _watch(self) -> None:
        from watchfiles import awatch

        async for changes in awatch(
            *self.roots,
            watch_filter=_watch_filter(self.ignored),
            stop_event=self.stop_watching,
        ):
            self._notice(f"{_describe_changes(changes)}; loading the new code")
            self.changed.set()

    # -- children -----------------------------------------------------------------------

    async def _load(self) -> None:
        """Start a child on the current code; make it the serving one once it loaded."""
        child = await self._spawn()
        try:
            outcome = await _first(child.ready, child.exited, self.changed)
            if outcome is self.changed:
                return  # newer code is on its way: this child never serves
            if outcome is child.exited:
                still = (
                    "the previous code serves on until the next change"
                    if self.active is not None
                    else "waiting for a change"
                )
                self._notice(f"the code did not load ({_exit_status(child)}, see above); {still}")
                return
            old = self.active
            if old is not None:
                await self._retire(old, "the previous code")
            assert child.process.stdin is not None
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await child.process.stdin.send(b"go\n")  # unless it died meanwhile
            self.active = child
        finally:
            if self.active is not child:
                child.kill()  # it has loaded at most: nothing of it runs yet
        if child.exited.is_set():
            self.active = None
            self._notice(f"the app stopped ({_exit_status(child)}, see above)")
            return
        names = ", ".join(f"{p['app_id']} {p['version']}" for p in child.payloads)
        self._notice(f"serving {names} (process {child.process.pid})")
        if self.emulator is not None:
            self.run_wanted.set()

    async def _spawn(self) -> _Child:
        command = child_command([*self.args.argv, "--reload-child"])
        process = await anyio.open_process(command, env=self._child_env(), start_new_session=True)
        child = _Child(process)
        assert self.group is not None
        self.group.start_soon(self._relay, child, process.stdout, sys.stdout)
        self.group.start_soon(self._relay, child, process.stderr, sys.stderr)
        self.group.start_soon(self._reap, child)
        return child

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The user's prints and logs show as they happen, not when a buffer fills.
        env["PYTHONUNBUFFERED"] = "1"
        if self.emulator is not None:
            # The emulator's own address and token only (a token file would win).
            for name in ("TOKEN_FILE", "CA_BUNDLE", "CLIENT_CERT", "CLIENT_KEY"):
                env.pop(f"TEMPEST_{name}", None)
            # In the environment, not argv, where other users' `ps` would show it.
            env["TEMPEST_TOKEN"] = self.emulator.token
            env["TEMPEST_API_ENDPOINT"] = self.emulator.url
        return env

    async def _relay(
        self, child: _Child, stream: anyio.abc.ByteReceiveStream | None, to: TextIO
    ) -> None:
        """Copy a child's output line by line, taking the ready line out of stdout."""
        pending = b""
        try:
            if stream is not None:
                async for chunk in stream:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self._line(child, line.decode("utf-8", "replace"), to)
                if pending:
                    self._line(child, pending.decode("utf-8", "replace"), to)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            child.streams_closed += 1
            if child.streams_closed == 2:
                child.streams_done.set()

    def _line(self, child: _Child, line: str, to: TextIO) -> None:
        at = line.find(_READY) if to is sys.stdout and not child.ready.is_set() else -1
        if at >= 0:
            # After whatever the app printed without a newline while it loaded.
            if at:
                self._write(to, line[:at] + "\n")
            child.payloads = json.loads(line[at + len(_READY) :])
            child.ready.set()
            return
        self._write(to, line + "\n")

    async def _reap(self, child: _Child) -> None:
        await child.process.wait()
        # Output written just before the exit is still in the pipes: show it first.
        # (A grandchild holding them open must not stall the supervisor.)
        with anyio.move_on_after(2):
            await child.streams_done.wait()
        child.exited.set()
        await child.process.aclose()
        if child is self.active and not child.stopping:
            self.active = None
            if self.run_scope is not None:
                self.run_scope.cancel()
            self._notice(
                f"the app stopped ({_exit_status(child)}, see above); "
                "waiting for a change to start it again"
            )

    async def _retire(self, child: _Child, what: str) -> None:
        """Stop `child` gracefully: SIGTERM, then wait for it to drain; kill it after."""
        if child.exited.is_set():
            return
        if not child.stopping:
            # Once only: the runner takes a second signal as "stop at once".
            child.stopping = True
            self._notice(
                f"stopping {what}; its running tasks have up to {self.grace:g} s to finish"
            )
            child.send(signal.SIGTERM)
        with anyio.move_on_after(sum(self.stop_times) + _STOP_MARGIN):
            await child.exited.wait()
            return
        self._notice(f"{what} did not stop in time; killing process {child.process.pid}")
        child.kill()
        await child.exited.wait()

    async def _stop_all(self) -> None:
        child = self.active
        if child is not None:
            with anyio.CancelScope(shield=True):
                await self._retire(child, "the app")

    # -- runs against the emulator ------------------------------------------------------

    async def _runs(self) -> None:
        from ..models import ConnectRequest
        from ._steps import plan_steps, print_results, run_with_progress

        assert self.emulator is not None
        count = 0
        while True:
            await self.run_wanted.wait()
            self.run_wanted = anyio.Event()
            child = self.active
            if child is None:
                continue
            # The steps read only app_id, version and describe() of each app.
            apps = [
                cast("App", _Described(ConnectRequest.model_validate(p))) for p in child.payloads
            ]
            try:
                steps = plan_steps(self.args, apps)
            except CLIError as exc:
                self._notice(f"cannot run the tasks: {exc}")
                continue
            count += 1
            if not self.args.json:
                self.out.line(self.out.style(f"Run {count}", "bold"))
            self.progress = Progress(self.out.stream)
            with anyio.CancelScope() as scope:
                self.run_scope = scope
                try:
                    results = await run_with_progress(
                        self.emulator,
                        steps,
                        apps=apps,
                        act_on_existing=self.args.act_on_existing_resources,
                        progress=self.progress,
                    )
                except TimeoutError as exc:
                    self._notice(f"run {count} stopped: {exc}")
                    continue
                finally:
                    self.run_scope = None
                    self.progress = None
                print_results(self.out, results, json_output=self.args.json)
                self.out.line()
                self.out.stream.flush()
            if scope.cancelled_caught:
                self._notice(f"run {count} abandoned: the app stopped")

    # -- output -------------------------------------------------------------------------

    def _announce(self) -> None:
        target = (
            f"the local emulator at {self.emulator.url} (token {self.emulator.token})"
            if self.emulator is not None
            else "the API endpoint"
        )
        folders = ", ".join(str(r) for r in self.roots)
        kinds = ", ".join(f"*{s}" for s in WATCHED_SUFFIXES)
        self._notice(f"serving against {target}; watching {folders} ({kinds})")

    def _notice(self, message: str) -> None:
        if self.json_logs is not None:
            record = logging.LogRecord(
                "tempest_sdk.cli.reload", logging.INFO, __file__, 0, message, None, None
            )
            self._write(sys.stderr, self.json_logs.format(record) + "\n")
        else:
            self._write(sys.stderr, f"reload: {message}\n")

    def _write(self, to: TextIO, text: str) -> None:
        if self.progress is not None:
            self.progress.clear()
        to.write(text)
        to.flush()


async def _first(*events: anyio.Event) -> anyio.Event:
    """Wait until one of `events` is set; return the first one found set."""
    async with anyio.create_task_group() as group:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            group.cancel_scope.cancel()

        for event in events:
            group.start_soon(wait, event)
    return next(e for e in events if e.is_set())


def _describe_changes(changes: Iterable[tuple[Any, str]]) -> str:
    cwd = Path.cwd()
    described = []
    for change, path in sorted(changes, key=lambda c: c[1]):
        shown = Path(path)
        if shown.is_relative_to(cwd):
            shown = shown.relative_to(cwd)
        described.append(f"{shown} {change.name}")
    more = f" (and {len(described) - 3} more)" if len(described) > 3 else ""
    return ", ".join(described[:3]) + more


def _exit_status(child: _Child) -> str:
    code = child.process.returncode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _stop_times() -> tuple[float, float]:
    """The runner's shutdown grace and flush timeout, as the children read them."""
    from ..runner import RunnerConfigError, RunnerOptions, options_from_env

    try:
        options = options_from_env()
    except RunnerConfigError:
        options = RunnerOptions()  # the children say what is wrong with the variables
    return options.shutdown_grace, options.flush_timeout


def _json_formatter() -> logging.Formatter | None:
    """The JSON formatter when the command's logs are JSON, so notices match them."""
    module = sys.modules.get("tempest_sdk._logjson")
    if module is None:
        return None  # not even loaded, so no handler uses it
    json_class: type[logging.Formatter] = module.JsonLogFormatter
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, json_class):
            return handler.formatter
    return None
