"""What the service keeps: received Tempo events and event subscriptions, in SQLite.

One `EventStore` is shared by the receiver (FastAPI routes) and the private app's
handlers. SQLite calls run in worker threads, one at a time on one connection, so
neither the receiver nor the runner ever blocks the event loop on a disk write. The
request id is the events table's unique key: a delivery Tempo sends twice is stored once.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio

__all__ = [
    "AuthMode",
    "EventStore",
    "NewEvent",
    "Recorded",
    "StoredEvent",
    "Subscription",
    "SubscriptionExistsError",
    "WaitOutcome",
]

AuthMode = Literal["basic", "api_key"]
WaitOutcome = Literal["received", "timeout", "stopped"]

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    correlation_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    auth TEXT NOT NULL,
    has_metadata INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    event_trigger TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    organization_name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    source_environment TEXT NOT NULL,
    created_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    event_trigger TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    acknowledged_seq INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
"""
_EVENT_COLUMNS = (
    "seq, request_id, correlation_id, received_at, auth, has_metadata, event_type, "
    "event_trigger, subscriber, organization_name, created_by, source_environment, "
    "created_at, payload"
)
# A subscription's filters: an empty filter matches every event.
_MATCHES = (
    "(:event_type = '' OR e.event_type = :event_type) "
    "AND (:event_trigger = '' OR e.event_trigger = :event_trigger) "
    "AND (:subscriber = '' OR e.subscriber = :subscriber)"
)
# How long a refused delivery counts against the health check.
REFUSAL_WINDOW = 15 * 60.0


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event as the receiver accepted it, before it is stored."""

    request_id: str
    correlation_id: str
    auth: AuthMode
    payload: Mapping[str, Any]
    has_metadata: bool = False
    event_type: str = ""
    event_trigger: str = ""
    subscriber: str = ""
    organization_name: str = ""
    created_by: str = ""
    source_environment: str = ""
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A received event; `seq` orders events by arrival and is the listing cursor."""

    seq: int
    request_id: str
    correlation_id: str
    received_at: str
    auth: AuthMode
    has_metadata: bool
    event_type: str
    event_trigger: str
    subscriber: str
    organization_name: str
    created_by: str
    source_environment: str
    created_at: str
    payload: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of recording a delivery: the stored event, and whether it was new.

    `same_body` is False for a duplicate request id whose body differs from the first
    delivery's (the first one is kept).
    """

    event: StoredEvent
    new: bool
    same_body: bool = True


@dataclass(frozen=True, slots=True)
class Subscription:
    """A filter over received events, and how far its events were acknowledged."""

    name: str
    event_type: str
    event_trigger: str
    subscriber: str
    acknowledged_seq: int
    created_at: str
    matched: int = 0
    pending: int = 0
    last_request_id: str = ""
    last_received_at: str = ""

    def same_filters(self, event_type: str, event_trigger: str, subscriber: str) -> bool:
        """Whether the subscription filters exactly these values."""
        return (self.event_type, self.event_trigger, self.subscriber) == (
            event_type,
            event_trigger,
            subscriber,
        )


class SubscriptionExistsError(Exception):
    """A subscription of that name exists with other filters."""

    def __init__(self, existing: Subscription) -> None:
        self.existing = existing
        super().__init__(f"subscription {existing.name!r} exists with other filters")


class EventStore:
    """Received events and subscriptions, shared by the receiver and the private app.

    Open it with `EventStore.open(path)`; `":memory:"` keeps everything in the process.
    Every method is async and runs its SQL in a worker thread.
    """

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self._lock = threading.Lock()  # one statement at a time on the one connection
        self.path = path
        self._arrived: anyio.Event | None = None
        self._stopping = False
        self.waiting = 0  # calls blocked in wait_for_pending now
        self._refusals: collections.deque[float] = collections.deque(maxlen=10_000)

    def __repr__(self) -> str:
        return f"<EventStore {self.path}>"

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, path: str | Path) -> AsyncGenerator[EventStore]:
        """Open (creating if needed) the database at `path` for the block, then close it.

        Raises:
            sqlite3.Error: the file cannot be opened or is not a database of this service.
        """
        where = str(path)
        connection = await anyio.to_thread.run_sync(_connect, where)
        try:
            yield cls(connection, where)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(connection.close)

    # -- the receiver's side ------------------------------------------------------------

    async def record(self, event: NewEvent) -> Recorded:
        """Store `event` unless its request id is known; wake those waiting for events."""
        body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(body.encode()).hexdigest()
        recorded = await self._run(self._record, event, body, digest)
        if recorded.new:
            self._wake()
        return recorded

    def note_refusal(self) -> None:
        """Count a delivery refused for its credentials (the health check reports them)."""
        self._refusals.append(time.monotonic())

    def recent_refusals(self, window: float = REFUSAL_WINDOW) -> int:
        """Deliveries refused for their credentials in the last `window` seconds."""
        since = time.monotonic() - window
        return sum(1 for at in list(self._refusals) if at >= since)

    def stop_waiting(self) -> None:
        """End every wait for events now and from now on: the service is stopping."""
        self._stopping = True
        self._wake()

    # -- events ---------------------------------------------------------------------------

    async def event(self, request_id: str) -> StoredEvent | None:
        """The event with this request id, if it was received."""
        return await self._run(self._event, request_id)

    async def events(self, after: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events received after the one numbered `after`, oldest first."""
        return await self._run(self._events, after, limit)

    async def count(self) -> tuple[int, str]:
        """How many events were received, and when the last one was ("" if none)."""
        return await self._run(self._count)

    # -- subscriptions --------------------------------------------------------------------

    async def create_subscription(
        self,
        name: str,
        *,
        event_type: str,
        event_trigger: str,
        subscriber: str,
        include_past: bool,
    ) -> tuple[Subscription, bool]:
        """Create a subscription, or return the existing one with the same filters.

        Returns:
            The subscription, and whether it was created now.

        Raises:
            SubscriptionExistsError: one of that name has other filters.
        """
        return await self._run(
            self._create_subscription, name, event_type, event_trigger, subscriber, include_past
        )

    async def subscription(self, name: str) -> Subscription | None:
        """The subscription named `name` with its counts, if it exists."""
        return await self._run(self._subscription, name)

    async def subscriptions(self, after: str, limit: int) -> list[Subscription]:
        """Up to `limit` subscriptions whose names sort after `after`, in name order."""
        return await self._run(self._subscriptions, after, limit)

    async def update_subscription(
        self,
        name: str,
        *,
        event_type: str | None,
        event_trigger: str | None,
        subscriber: str | None,
    ) -> Subscription | None:
        """Change the filters given (None: keep); None if there is no such subscription."""
        return await self._run(
            self._update_subscription, name, event_type, event_trigger, subscriber
        )

    async def delete_subscription(self, name: str) -> bool:
        """Delete a subscription (its events stay); whether it existed."""
        return await self._run(self._delete_subscription, name)

    async def acknowledge(self, name: str, up_to: str) -> tuple[int, Subscription] | None:
        """Acknowledge the subscription's pending events, up to the request id `up_to`
        ("" for all); None if there is no such subscription.

        Returns:
            How many events this acknowledged, and the subscription afterwards.

        Raises:
            LookupError: `up_to` names no received event.
        """
        return await self._run(self._acknowledge, name, up_to)

    async def first_pending(self, name: str) -> StoredEvent | None:
        """The oldest matching event not acknowledged yet.

        Raises:
            LookupError: there is no such subscription.
        """
        return await self._run(self._first_pending, name)

    async def wait_for_pending(
        self, name: str, timeout: float
    ) -> tuple[WaitOutcome, StoredEvent | None]:
        """Wait up to `timeout` seconds until the subscription has a pending event.

        Returns at once when one is pending already, and with `"stopped"` once the
        service is stopping (no event can arrive while it drains).

        Raises:
            LookupError: there is no such subscription (or it was deleted meanwhile).
        """
        with anyio.move_on_after(timeout):
            while True:
                # Taken before looking, so an event recorded meanwhile still wakes us.
                arrived = self._arrival()
                found = await self.first_pending(name)
                if found is not None:
                    return "received", found
                if self._stopping:
                    return "stopped", None
                self.waiting += 1
                try:
                    await arrived.wait()
                finally:
                    self.waiting -= 1
        return "timeout", None

    # -- internals --------------------------------------------------------------------------

    def _arrival(self) -> anyio.Event:
        if self._arrived is None:
            self._arrived = anyio.Event()
        return self._arrived

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, None
        if arrived is not None:
            arrived.set()

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        def locked() -> _T:
            with self._lock:
                return fn(*args)

        return await anyio.to_thread.run_sync(locked)

    def _record(self, event: NewEvent, body: str, digest: str) -> Recorded:
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO events (request_id, correlation_id, received_at, auth, "
            "has_metadata, event_type, event_trigger, subscriber, organization_name, "
            "created_by, source_environment, created_at, digest, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.request_id,
                event.correlation_id,
                _now(),
                event.auth,
                int(event.has_metadata),
                event.event_type,
                event.event_trigger,
                event.subscriber,
                event.organization_name,
                event.created_by,
                event.source_environment,
                event.created_at,
                digest,
                body,
            ),
        )
        row = self._db.execute(
            f"SELECT {_EVENT_COLUMNS}, digest FROM events WHERE request_id = ?",
            (event.request_id,),
        ).fetchone()
        return Recorded(_event(row), new=cursor.rowcount == 1, same_body=row["digest"] == digest)

    def _event(self, request_id: str) -> StoredEvent | None:
        row = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE request_id = ?", (request_id,)
        ).fetchone()
        return _event(row) if row is not None else None

    def _events(self, after: int, limit: int) -> list[StoredEvent]:
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        return [_event(row) for row in rows]

    def _count(self) -> tuple[int, str]:
        row = self._db.execute("SELECT COUNT(*), MAX(received_at) FROM events").fetchone()
        return int(row[0]), str(row[1] or "")

    def _create_subscription(
        self, name: str, event_type: str, event_trigger: str, subscriber: str, include_past: bool
    ) -> tuple[Subscription, bool]:
        existing = self._subscription(name)
        if existing is not None:
            if existing.same_filters(event_type, event_trigger, subscriber):
                return existing, False  # a create delivered again: the same subscription
            raise SubscriptionExistsError(existing)
        start = 0
        if not include_past:
            start = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        self._db.execute(
            "INSERT INTO subscriptions (name, event_type, event_trigger, subscriber, "
            "acknowledged_seq, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, event_type, event_trigger, subscriber, start, _now()),
        )
        created = self._subscription(name)
        assert created is not None
        return created, True

    def _subscription(self, name: str) -> Subscription | None:
        row = self._db.execute("SELECT * FROM subscriptions WHERE name = ?", (name,)).fetchone()
        return self._counted(row) if row is not None else None

    def _subscriptions(self, after: str, limit: int) -> list[Subscription]:
        rows = self._db.execute(
            "SELECT * FROM subscriptions WHERE name > ? ORDER BY name LIMIT ?", (after, limit)
        ).fetchall()
        return [self._counted(row) for row in rows]

    def _counted(self, row: sqlite3.Row) -> Subscription:
        filters = _filters(row)
        counts = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(e.seq > :acknowledged), 0) FROM events e "
            f"WHERE {_MATCHES}",
            filters | {"acknowledged": row["acknowledged_seq"]},
        ).fetchone()
        last = self._db.execute(
            f"SELECT e.request_id, e.received_at FROM events e WHERE {_MATCHES} "
            "ORDER BY e.seq DESC LIMIT 1",
            filters,
        ).fetchone()
        return Subscription(
            name=row["name"],
            event_type=row["event_type"],
            event_trigger=row["event_trigger"],
            subscriber=row["subscriber"],
            acknowledged_seq=row["acknowledged_seq"],
            created_at=row["created_at"],
            matched=int(counts[0]),
            pending=int(counts[1]),
            last_request_id=last["request_id"] if last else "",
            last_received_at=last["received_at"] if last else "",
        )

    def _update_subscription(
        self,
        name: str,
        event_type: str | None,
        event_trigger: str | None,
        subscriber: str | None,
    ) -> Subscription | None:
        changes = {
            column: value
            for column, value in (
                ("event_type", event_type),
                ("event_trigger", event_trigger),
                ("subscriber", subscriber),
            )
            if value is not None
        }
        if changes:
            assignments = ", ".join(f"{column} = :{column}" for column in changes)
            self._db.execute(
                f"UPDATE subscriptions SET {assignments} WHERE name = :name",
                changes | {"name": name},
            )
        return self._subscription(name)

    def _delete_subscription(self, name: str) -> bool:
        cursor = self._db.execute("DELETE FROM subscriptions WHERE name = ?", (name,))
        return cursor.rowcount == 1

    def _acknowledge(self, name: str, up_to: str) -> tuple[int, Subscription] | None:
        before = self._subscription(name)
        if before is None:
            return None
        if up_to:
            row = self._db.execute(
                "SELECT seq FROM events WHERE request_id = ?", (up_to,)
            ).fetchone()
            if row is None:
                raise LookupError(up_to)
            target = int(row["seq"])
        else:
            target = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        # Acknowledging never moves backwards: a repeated action changes nothing.
        self._db.execute(
            "UPDATE subscriptions SET acknowledged_seq = MAX(acknowledged_seq, ?) WHERE name = ?",
            (target, name),
        )
        after = self._subscription(name)
        assert after is not None
        return before.pending - after.pending, after

    def _first_pending(self, name: str) -> StoredEvent | None:
        row = self._db.execute("SELECT * FROM subscriptions WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise LookupError(name)
        found = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events e "
            f"WHERE e.seq > :acknowledged AND {_MATCHES} ORDER BY e.seq LIMIT 1",
            _filters(row) | {"acknowledged": row["acknowledged_seq"]},
        ).fetchone()
        return _event(found) if found is not None else None


def _connect(where: str) -> sqlite3.Connection:
    # Worker threads take turns on this connection under the store's lock.
    connection = sqlite3.connect(where, check_same_thread=False, isolation_level=None)
    try:
        connection.row_factory = sqlite3.Row
        if where != ":memory:":
            connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
    except BaseException:
        connection.close()
        raise
    return connection


def _filters(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "event_type": row["event_type"],
        "event_trigger": row["event_trigger"],
        "subscriber": row["subscriber"],
    }


def _event(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        seq=int(row["seq"]),
        request_id=row["request_id"],
        correlation_id=row["correlation_id"],
        received_at=row["received_at"],
        auth=row["auth"],
        has_metadata=bool(row["has_metadata"]),
        event_type=row["event_type"],
        event_trigger=row["event_trigger"],
        subscriber=row["subscriber"],
        organization_name=row["organization_name"],
        created_by=row["created_by"],
        source_environment=row["source_environment"],
        created_at=row["created_at"],
        payload=row["payload"],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
