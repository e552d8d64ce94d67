"""An on-disk outbox: finished reports survive a crash until they are acknowledged.

One file per report, `<sha256 of the task id>.json`, holding the report's wire JSON.
A report is written to a temporary file, flushed with `fsync`, renamed into place
(atomic on POSIX) and the directory is synced, so after a crash a file is either
complete or absent. The file is removed once the control plane acknowledges the
report. On start, the runner sends every pending report before polling.

Methods block on disk I/O; the runner calls them in a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

from pydantic import ValidationError

from ..models import TaskReport, describe_errors

__all__ = ["Outbox"]

logger = logging.getLogger("tempest_sdk.runner")

_SUFFIX = ".json"
_TEMP_SUFFIX = ".tmp"
_BAD_SUFFIX = ".unreadable"


class Outbox:
    """A directory of reports awaiting acknowledgement.

    Args:
        directory: where reports are kept; created (mode 0700) if missing. Reports
            hold handler results, so keep it private to the runner's user. Two
            runners must not share one directory.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

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
        return [report for _, report in pending]

    def put(self, report: TaskReport) -> None:
        """Store `report` durably (replacing an earlier one of the same task)."""
        final = self._path(report.task_id)
        temp = final.with_name(final.name + _TEMP_SUFFIX)
        data = report.to_json()
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
        self._sync_directory()

    def remove(self, task_id: str) -> None:
        """Forget the report of `task_id` (acknowledged, or the task is gone)."""
        # No directory sync: if the removal is lost in a crash, the report is sent
        # again, and the control plane acknowledges or 404s it.
        self._path(task_id).unlink(missing_ok=True)

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
