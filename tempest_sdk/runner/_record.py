"""Recording served tasks (`record=`): lines built on the loop, a bounded queue, a writer
thread, rotated files.

The runner never waits for the disk: each task the filter and the sampling rate keep
becomes its line as it ends (`_recordings.encode_record`: the task as received, the
report, secrets masked; tens of microseconds on the event loop's thread), handed to a
bounded queue; one writer thread, waking every `TICK` seconds, writes what came
meanwhile with one `write` per batch, rotating the file by size and keeping `files` of
them. When the queue is full (the disk is slower than the tasks), records are dropped
and counted, with one WARNING per episode; a failed write drops its batch, counted the
same way. Tasks are never held back nor lost for a record.

Why lines on the loop and batches: the writer shares the GIL with the event loop. A
writer thread building lines held the GIL while tasks waited for the loop (recording
then cost 8-15 % of the rate of a runner waiting on the network, about 4 % with the
lines built on the loop); each `write` that reaches the disk releases the GIL, and
taking it back from a busy loop costs the loop a forced switch, so one `write` per
batch makes it once a tick.
"""

from __future__ import annotations

import collections
import errno
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from pydantic_core import from_json

from .._recordings import RecordFilter, encode_record, rotated_paths
from .._secrets import TaskSecrets, current_task_secrets
from ..models import Task, TaskReport
from ._hooks import InterceptedTask, Interceptor, ObservedRunner, TaskCall, TaskInfo

__all__ = [
    "DEFAULT_RECORD_FILES",
    "DEFAULT_RECORD_MAX_BYTES",
    "RecordWriter",
    "Recorder",
]

logger = logging.getLogger("tempest_sdk.runner")

DEFAULT_RECORD_MAX_BYTES: Final = 32 * 2**20
DEFAULT_RECORD_FILES: Final = 4
#: Records waiting for the writer at most; past it, records are dropped.
QUEUE_RECORDS: Final = 2048
#: Seconds the writer gets at stop to write what is queued.
CLOSE_TIMEOUT: Final = 5.0
#: Seconds between the writer's rounds: each writes what came since in one batch.
TICK: Final = 0.1
#: Bytes of lines the writer gathers before it writes them (one `write`).
BATCH_BYTES: Final = 2**20

Opener = Callable[[Path], IO[bytes]]
"""Opens the current file for appending (tests swap in slow or failing files)."""


def _append(path: Path) -> IO[bytes]:
    # Unbuffered: each batch is one `write` already, and a record counts as written
    # once the OS has it (a buffer would hold records counted but not yet written).
    return open(path, "ab", buffering=0)


class RecordWriter:
    """Writes record lines from a bounded queue in a thread, rotating files by size.

    Args:
        path: the current file; rotated ones are `path.1` (newest) to `path.<files-1>`.
        max_bytes: the most bytes a file holds; a record that alone exceeds it is
            dropped.
        files: how many files are kept, the current one included.
        queue_size: records waiting at most before new ones are dropped (default
            `QUEUE_RECORDS`).
        opener: opens `path` for appending (default: an unbuffered binary file).
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_RECORD_MAX_BYTES,
        files: int = DEFAULT_RECORD_FILES,
        queue_size: int | None = None,
        opener: Opener | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.files = files
        self._opener = opener if opener is not None else _append
        # A deque, not a queue.Queue: appending takes no lock and wakes no thread, so
        # a task pays a few hundred nanoseconds; the writer wakes every `TICK` seconds
        # and writes what came meanwhile in one batch (one write, no GIL ping-pong).
        self._queue: collections.deque[Callable[[], bytes]] = collections.deque()
        self._limit = queue_size if queue_size is not None else QUEUE_RECORDS
        # Records the writer took from the queue and has not written yet: they count
        # against the limit too, so the memory held stays `queue_size` records.
        self._taken = 0
        self._wake = threading.Event()
        self._file: IO[bytes] | None = None
        self._size = 0
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        # Each counter has one writer thread: no lock, no lost increment.
        self._written = 0
        self._full = 0  # dropped at a full queue (the event loop's thread)
        self._failed = 0  # dropped by the writer: a write failed, or too large
        self._lagging = False  # a full-queue episode is on (set by the loop)
        self._lag_mark = 0
        self._failing = False  # a failed-write episode is on (the writer's)
        self._fail_mark = 0

    @property
    def written(self) -> int:
        """Records written so far."""
        return self._written

    @property
    def dropped(self) -> int:
        """Records dropped so far: the queue was full, a write failed, or one was too large."""
        return self._full + self._failed

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._queue) + self._taken

    def open(self) -> None:
        """Open the current file and start the writer thread.

        Raises:
            OSError: the file cannot be opened for appending (a missing folder, no
                permission): recording fails at start, not on the first task.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open_file()
        self._thread = threading.Thread(
            target=self._run, name=f"tempest-record {self.path.name}", daemon=True
        )
        self._thread.start()

    def submit(self, build: Callable[[], bytes]) -> bool:
        """Queue a record (`build()` gives its line, in the writer thread); never waits.

        Returns whether it was queued; when not, it is counted as dropped.
        """
        if len(self._queue) + self._taken < self._limit:
            self._queue.append(build)
        else:
            self._full += 1
            if not self._lagging:
                self._lagging = True
                self._lag_mark = self._full - 1
                logger.warning(
                    "recording to %s cannot keep up (%d records waiting for the disk): "
                    "dropping records until it catches up; tasks are not affected",
                    self.path,
                    self._limit,
                )
            return False
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write what is queued (for up to `timeout` seconds), then stop and close."""
        self._closing.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._wake.set()  # an idle writer writes what is left and ends now
        thread.join(timeout)
        if thread.is_alive():
            logger.warning(
                "recording to %s: %d record(s) not written within %.0fs at stop (the disk "
                "is slow); left behind",
                self.path,
                self.pending,
                timeout,
            )
        else:
            logger.info(
                "recording to %s stopped: %d record(s) written, %d dropped",
                self.path,
                self._written,
                self.dropped,
            )

    # -- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        pending = self._queue
        try:
            while True:
                # Read before draining: what `close()` finds queued is written first.
                closing = self._closing.is_set()
                while pending:
                    self._write_batch()
                self._flush()
                if closing:
                    return
                if self._lagging:
                    lost = self._full - self._lag_mark
                    self._lagging = False
                    logger.info(
                        "recording to %s caught up: %d record(s) were dropped", self.path, lost
                    )
                self._wake.wait(TICK)
        finally:
            self._close_file()

    def _write_batch(self) -> None:
        """Build the lines of what is queued (up to `BATCH_BYTES`), then write them."""
        pending = self._queue
        lines: list[bytes] = []
        size = 0
        # Counted as taken before they leave the queue: never under the limit.
        self._taken = len(pending)
        try:
            for _ in range(self._taken):
                line = self._build(pending.popleft())
                if line is not None:
                    lines.append(line)
                    size += len(line)
                    if size >= BATCH_BYTES:
                        break
            self._write(lines)
        finally:
            self._taken = 0

    def _build(self, build: Callable[[], bytes]) -> bytes | None:
        try:
            line = build()
        except Exception:
            self._failed += 1
            logger.exception("recording to %s: a record could not be built; dropped", self.path)
            return None
        if len(line) > self.max_bytes:
            self._failure(f"a record of {len(line)} bytes exceeds record_max_bytes")
            return None
        return line

    def _write(self, lines: list[bytes]) -> None:
        """Write `lines` in order, one `write` per file they go to (rotating between)."""
        start = 0
        while start < len(lines):
            try:
                if self._file is None:
                    self._open_file()
                # As many as fit in the current file (at least one: a line never
                # exceeds `max_bytes`, and an empty file takes it whole).
                end, size = start, self._size
                while end < len(lines) and (not size or size + len(lines[end]) <= self.max_bytes):
                    size += len(lines[end])
                    end += 1
                if end == start:
                    self._rotate()
                    continue
                self._write_all(b"".join(lines[start:end]) if end - start > 1 else lines[start])
            except Exception as exc:  # the disk's (OSError), or the file object's own
                self._close_file()
                why = exc.strerror if isinstance(exc, OSError) else None
                self._failure(why or f"{type(exc).__name__}: {exc}", len(lines) - start)
                return
            self._size = size
            self._written += end - start
            start = end
            if self._failing:
                self._failing = False
                logger.info(
                    "recording to %s works again: %d record(s) were dropped",
                    self.path,
                    self._failed - self._fail_mark,
                )

    def _write_all(self, data: bytes) -> None:
        assert self._file is not None
        while data:
            # A raw file may take part of it (a signal, a nearly full disk): the rest next.
            written = self._file.write(data)
            if not written:
                raise OSError(errno.EIO, "the file took none of the bytes written to it")
            data = data[written:]

    def _failure(self, why: str, records: int = 1) -> None:
        self._failed += records
        if not self._failing:
            self._failing = True
            self._fail_mark = self._failed - records
            logger.warning(
                "recording to %s failed (%s): %d record(s) dropped, and so is every "
                "record until a write succeeds again; tasks are not affected",
                self.path,
                why,
                records,
            )

    def _open_file(self) -> None:
        self._file = self._opener(self.path)
        try:
            self._size = os.fstat(self._file.fileno()).st_size
        except (OSError, ValueError, AttributeError):
            self._size = self._file.tell()

    def _rotate(self) -> None:
        self._close_file()
        paths = rotated_paths(self.path, self.files)
        if len(paths) == 1:
            self.path.unlink(missing_ok=True)
        for older, newer in reversed(list(zip(paths[1:], paths[:-1], strict=True))):
            if newer.exists():
                os.replace(newer, older)  # the oldest kept is replaced: dropped
        self._open_file()

    def _flush(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
        except OSError as exc:
            self._close_file()
            self._failure(f"{exc.strerror or exc}")

    def _close_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as exc:
                self._failure(f"{exc.strerror or exc}")


class Recorder(Interceptor):
    """The interceptor of `record=`: decides which served tasks are recorded and hands
    them to a `RecordWriter`. The runner puts it outermost, so it records the report
    the whole chain produced: the one sent.

    Args:
        writer: where records go.
        only: which tasks (see `RecordFilter`); everything when empty.
        sample: the share of the tasks that pass `only` that are recorded, in (0, 1].
        rng: the random source of the sampling.
    """

    def __init__(
        self,
        writer: RecordWriter,
        *,
        only: RecordFilter | None = None,
        sample: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.writer = writer
        self.only = only if only is not None else RecordFilter()
        self.sample = sample
        self._random = (rng or random.Random()).random

    @property
    def written(self) -> int:
        """Records written so far."""
        return self.writer.written

    @property
    def dropped(self) -> int:
        """Records dropped so far (the disk too slow, a write failed)."""
        return self.writer.dropped

    async def intercept_task(self, task: InterceptedTask, call_next: TaskCall) -> TaskReport:
        """Run the task, then hand it and its report to the writer (never waiting)."""
        info = task.info
        if not self._may_record(info):
            return await call_next()
        started = time.monotonic()
        # The task as received, before a handler could change the objects it is given:
        # as JSON bytes, which the garbage collector need not walk while the task runs.
        received = task.task.to_json()
        report = await call_next()
        try:
            if self._passes(info, report):
                self.record(
                    info,
                    task.task,
                    report,
                    started_at=task.started,
                    duration=time.monotonic() - started,
                    secrets=task.secrets,
                    received=received,
                )
        except Exception:  # a bug of ours must not cost the task its report
            logger.exception("recording task %s failed; not recorded", info.task_id)
        return report

    def unbind(self, runner: ObservedRunner) -> None:
        """Write what is queued and close the file."""
        self.writer.close()

    def _may_record(self, info: TaskInfo) -> bool:
        """Before the task runs: sampled, and the filter passes it for some outcome."""
        only = self.only
        if only and not any(
            only.matches(info.subject, status, info.task_id) for status in ("ok", "error")
        ):
            return False
        return self._sampled()

    def _passes(self, info: TaskInfo, report: TaskReport) -> bool:
        only = self.only
        return not only or only.matches(info.subject, str(report.status), info.task_id)

    def _sampled(self) -> bool:
        return self.sample >= 1.0 or self._random() < self.sample

    def record(
        self,
        info: TaskInfo,
        task: Task,
        report: TaskReport,
        *,
        started_at: float,
        duration: float,
        secrets: TaskSecrets | None = None,
        received: bytes | None = None,
    ) -> None:
        """Record one served task (the filter and sampling passed); never waits for the disk.

        Args:
            info: what the task is.
            task: the task as received.
            report: the report sent.
            started_at: when it started, seconds since the epoch.
            duration: seconds it took.
            received: `task.to_json()` taken before the handler ran (a handler may
                change the objects it is given); default: the task as it is now.
            secrets: the task's secrets; default: those of the task running here.
                The line is built and masked now, on the caller's thread, with their
                maskers (the task's own, which it already holds, and the process's).
        """
        if secrets is None:
            secrets = current_task_secrets()
        maskers = secrets.maskers() if secrets is not None else None
        # Built here, on the event loop's thread: a writer thread building lines took
        # the GIL from the loop while tasks waited on it; the writer only writes.
        line = encode_record(
            app_id=info.app_id,
            version=info.version,
            task=task,
            report=report,
            started_at=started_at,
            duration=duration,
            waited=info.waited,
            maskers=maskers,
            task_data=from_json(received) if received is not None else None,
        )
        self.writer.submit(lambda: line)
