"""An on-disk outbox: finished reports survive a crash until they are acknowledged.

One file per report, `<sha256 of the task id>.json`, holding the report's wire JSON.
A report is written to a temporary file, flushed with `fsync`, renamed into place
(atomic on POSIX) and the directory is synced, so after a crash a file is either
complete or absent. The file is removed once the control plane acknowledges the
report. On start, the runner sends every pending report before polling.

The outbox is bounded, in reports and in bytes, so that it never outgrows its volume
(a Kubernetes `emptyDir` with a `sizeLimit` evicts the pod, outbox and all). Every
file in the directory counts, each rounded up to the 4 KiB block it takes on disk, so
the bytes follow what a volume's usage shows. At the bound a report is not written:
`put` raises `OutboxFullError` and the runner delivers that report from memory only
(if the process dies before it is acknowledged, Tempest hands the task out again once
its lease ends, as without an outbox). Memory stays bounded all the same: reports
waiting for delivery hold their tasks' slots, so the runner stops fetching.

Methods block on disk I/O; the runner calls them in worker threads (they may run at
once: the accounting is locked).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from pathlib import Path

from pydantic import ValidationError

from ..models import TaskReport, describe_errors

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_REPORTS",
    "Outbox",
    "OutboxFullError",
]

logger = logging.getLogger("tempest_sdk.runner")

_SUFFIX = ".json"
_TEMP_SUFFIX = ".tmp"
_BAD_SUFFIX = ".unreadable"
_MIB = 2**20

DEFAULT_MAX_REPORTS = 1024
"""The most reports an outbox keeps (`outbox_max_reports`)."""
DEFAULT_MAX_BYTES = 63 * _MIB
"""The most bytes an outbox takes on disk (`outbox_max_bytes`): with 1 MiB for the
directory itself, a 64 MiB volume holds it (deploy/'s `sizeLimit: 64Mi`)."""
BLOCK_SIZE = 4096
"""Each file counts as its size rounded up to this: the block most filesystems use."""


class OutboxFullError(OSError):
    """The outbox is at its bound: the report was not written to disk."""


class Outbox:
    """A directory of reports awaiting acknowledgement.

    Args:
        directory: where reports are kept; created (mode 0700) if missing. Reports
            hold handler results, so keep it private to the runner's user. Two
            runners must not share one directory.
        max_reports: the most reports kept at once.
        max_bytes: the most bytes the directory's files take, each rounded up to
            `BLOCK_SIZE`.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_reports: int = DEFAULT_MAX_REPORTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.directory = directory
        self.max_reports = max_reports
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._reports: dict[str, int] | None = None  # file name -> bytes; None: not read
        self._used = 0  # bytes of every file, reports or not
        self._reserved_reports = 0  # being written now
        self._reserved_bytes = 0

    def open(self) -> list[TaskReport]:
        """Create the directory if needed and return the reports still pending.

        Leftover temporary files (a crash mid-write) are removed; unreadable files
        are renamed `*.unreadable` and logged, never silently deleted.
        """
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        pending: list[tuple[float, TaskReport]] = []
        for path in self.directory.iterdir():
            if path.name.endswith(_TEMP_SUFFIX):
                path.unlink(missing_ok=True)
                continue
            if not path.name.endswith(_SUFFIX):
                continue
            try:
                data = path.read_bytes()
                report = TaskReport.model_validate_json(data)
            except (OSError, ValidationError) as exc:
                reason = describe_errors(exc) if isinstance(exc, ValidationError) else str(exc)
                logger.error(
                    "outbox file %s is unreadable (%s); renamed to *%s and skipped",
                    path,
                    reason,
                    _BAD_SUFFIX,
                )
                with contextlib.suppress(OSError):
                    path.rename(path.with_name(path.name + _BAD_SUFFIX))
                continue
            pending.append((path.stat().st_mtime, report))
        # Oldest first: they were finished first.
        pending.sort(key=lambda item: item[0])
        with self._lock:
            self._count()
        return [report for _, report in pending]

    def put(self, report: TaskReport) -> None:
        """Store `report` durably (replacing an earlier one of the same task).

        Raises:
            OutboxFullError: the report would take the outbox past its bound; nothing
                was written.
            OSError: the disk refused the write.
        """
        final = self._path(report.task_id)
        temp = final.with_name(final.name + _TEMP_SUFFIX)
        data = report.to_json()
        cost = _blocks(len(data))
        adds = self._reserve(final.name, cost)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            with self._lock:
                self._reserved_reports -= adds
                self._reserved_bytes -= cost
            raise
        with self._lock:
            self._reserved_reports -= adds
            self._reserved_bytes -= cost
            assert self._reports is not None
            self._used += cost - self._reports.pop(final.name, 0)
            self._reports[final.name] = cost
        self._sync_directory()

    def remove(self, task_id: str) -> None:
        """Forget the report of `task_id` (acknowledged, or the task is gone)."""
        # No directory sync: if the removal is lost in a crash, the report is sent
        # again, and the control plane acknowledges or 404s it.
        path = self._path(task_id)
        path.unlink(missing_ok=True)
        with self._lock:
            if self._reports is not None:
                self._used -= self._reports.pop(path.name, 0)

    @property
    def used_bytes(self) -> int:
        """Bytes the directory's files take, as the bound counts them (0 before use)."""
        with self._lock:
            return self._used + self._reserved_bytes

    def _reserve(self, name: str, cost: int) -> int:
        """Count a report about to be written as `name`, or raise `OutboxFullError`;
        returns how many reports it adds (0 when it replaces one)."""
        with self._lock:
            if self._reports is None:
                self._count()
            assert self._reports is not None
            # A replacement adds no report, but both files exist for a moment.
            adds = 0 if name in self._reports else 1
            reports = len(self._reports) + self._reserved_reports + adds
            used = self._used + self._reserved_bytes + cost
            if (adds and reports > self.max_reports) or used > self.max_bytes:
                raise OutboxFullError(
                    f"the outbox {self.directory} is full ({reports - adds} reports, "
                    f"{(used - cost) / _MIB:.1f} MiB; this one {cost / _MIB:.1f} MiB; its "
                    f"bound: {self.max_reports} reports, {self.max_bytes / _MIB:.1f} MiB). "
                    "Tempest is not acknowledging reports; if it is only slow, raise "
                    "TEMPEST_RUNNER_OUTBOX_MAX_REPORTS or _MAX_BYTES (and the volume)"
                )
            self._reserved_reports += adds
            self._reserved_bytes += cost
            return adds

    def _count(self) -> None:
        """Read what the directory holds now (called with the lock held)."""
        reports: dict[str, int] = {}
        used = 0
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.directory):
                with contextlib.suppress(OSError):
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    cost = _blocks(entry.stat(follow_symlinks=False).st_size)
                    used += cost
                    if entry.name.endswith(_SUFFIX):
                        reports[entry.name] = cost
        self._reports, self._used = reports, used

    def pending_count(self) -> int:
        """How many reports wait in the directory."""
        if not self.directory.is_dir():
            return 0
        return sum(1 for path in self.directory.iterdir() if path.name.endswith(_SUFFIX))

    def _path(self, task_id: str) -> Path:
        # Task ids come from the server: hash them rather than trust them as file names.
        digest = hashlib.sha256(task_id.encode()).hexdigest()[:40]
        return self.directory / (digest + _SUFFIX)

    def _sync_directory(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:  # pragma: no cover - platforms without directory fds
            return
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover
            pass
        finally:
            os.close(fd)


def _blocks(size: int) -> int:
    """`size` rounded up to whole blocks; an empty file still takes an inode, count one."""
    return max(1, -(-size // BLOCK_SIZE)) * BLOCK_SIZE
