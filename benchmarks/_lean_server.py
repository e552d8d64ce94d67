"""A lean stand-in for Tempest's control plane, in its own process, for benchmarks.

It speaks only the four calls the runner makes, with no contract validation:

- `POST .../apps.operations.next` → `200` with a queued `execute_resource_action` task
  (action `work` on a `thing`), or `204` when the app version's queue is empty;
- `POST .../apps.operations.report` → `200 {"status": "ok"}`, `404` for an unknown task id;
- `POST .../apps.versions.health` and `.../apps.version.connect` → `200 {"status": "ok"}`.

Every answer is held back `latency` seconds after its request arrived, as a network
would, and is written in one send (no delayed-ACK stalls). It serves on 127.0.0.1 with
asyncio and h11: one task per connection, so many requests can wait out their delay
at once without a thread each. It can inject faults: a fraction of `next` and `report`
calls answered `503` at random (seeded), and "the next K `next` calls answer `503`".

The process stops by itself when the benchmark's end of the pipe closes, on `close()`,
or after `lifetime` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import multiprocessing
import multiprocessing.connection
import random
import resource
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import h11

__all__ = ["ACTION", "RESOURCE_TYPE", "TOKEN", "LeanServer"]

TOKEN = "lean-server-token"
RESOURCE_TYPE = "thing"
ACTION = "work"

_OK = b'{"status":"ok"}'
_UNAVAILABLE = b'{"status":"error","error":"service unavailable (injected fault)"}'
_NOT_FOUND = b'{"status":"error","error":"unknown task id"}'
_NOT_HANDLED = b'{"status":"error","error":"this lean server does not serve that call"}'
_CREATED = "2026-01-01T00:00:00Z"
_METADATA = {
    "owners": [{"email": "platform@example.com", "name": "Platform Team", "type": "team"}],
    "author": {"email": "ada@example.com", "name": "Ada Lovelace", "type": "user"},
    "project_id": "proj-bench",
    "project_name": "Bench",
}
_ENVIRONMENT = [
    {"name": "ENVIRONMENT", "value": "bench", "type": "variable"},
    {"name": "API_TOKEN", "value": "bench-secret-value", "type": "secret"},
]


def task_answer(task_id: str) -> bytes:
    """The body of a `next` answer carrying task `task_id` (shaped like the emulator's)."""
    resource = {
        "id": f"res-{task_id}",
        "type": RESOURCE_TYPE,
        "external_id": f"ext-{task_id}",
        "display_name": f"Thing {task_id}",
        "organization_id": "org-bench",
        "status": "active",
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "synced_at": _CREATED,
    }
    task = {
        "request_type": "execute_resource_action",
        "action": ACTION,
        "resource": resource,
        "input": {},
        "environment_variables": _ENVIRONMENT,
    }
    return json.dumps({"task_id": task_id, "task": task, "metadata": _METADATA}).encode()


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    delay: float
    # What writing it tells the statistics: "task", "forced" (a 503 of `fail_next`), "".
    kind: str = ""
    after_faults: bool = False


class _State:
    """Queues, leases, faults and counters; touched only from the server's event loop."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.fault_rate = 0.0
        self.rng = random.Random(0)
        self.fail_next_left = 0
        self.queues: dict[str, deque[str]] = {}
        self.issued: Counter[str] = Counter()  # tasks ever queued, by app version
        self.leased: dict[str, str] = {}  # task id -> app version
        self.counts: dict[str, Counter[str]] = {}
        self.forced_first: float | None = None
        self.forced_last: float | None = None
        self.forced_written = 0
        self.forced_total = 0
        self.resumed: float | None = None

    def count(self, version: str, what: str) -> None:
        self.counts.setdefault(version, Counter())[what] += 1

    def answer(self, target: bytes, body: bytes) -> _Answer:
        name = target.rsplit(b"/", 1)[-1].split(b"?", 1)[0]
        delay = self.latency
        if name == b"apps.operations.next":
            version = str(_loads(body).get("version", ""))
            if self.fail_next_left > 0:
                self.fail_next_left -= 1
                self.count(version, "next 503")
                return _Answer(503, _UNAVAILABLE, delay, "forced")
            if self.fault_rate and self.rng.random() < self.fault_rate:
                self.count(version, "next 503")
                return _Answer(503, _UNAVAILABLE, delay)
            queue = self.queues.get(version)
            if not queue:
                self.count(version, "next 204")
                return _Answer(204, b"", delay)
            task_id = queue.popleft()
            self.leased[task_id] = version
            self.count(version, "next 200")
            after = self.forced_total > 0 and self.fail_next_left == 0
            return _Answer(200, task_answer(task_id), delay, "task", after)
        if name == b"apps.operations.report":
            task_id = str(_loads(body).get("task_id", ""))
            version = self.leased.get(task_id, "")
            if self.fault_rate and self.rng.random() < self.fault_rate:
                self.count(version, "report 503")
                return _Answer(503, _UNAVAILABLE, delay)
            if not version:
                self.count(version, "report 404")
                return _Answer(404, _NOT_FOUND, delay)
            del self.leased[task_id]
            self.count(version, "report 200")
            return _Answer(200, _OK, delay)
        if name in (b"apps.versions.health", b"apps.version.connect"):
            version = str(_loads(body).get("version", ""))
            self.count(version, name.decode())
            return _Answer(200, _OK, delay)
        return _Answer(404, _NOT_HANDLED, delay)

    def written(self, answer: _Answer) -> None:
        """Note when an answer that the fault figures time went out."""
        if answer.kind == "forced":
            now = time.monotonic()
            if self.forced_first is None:
                self.forced_first = now
            self.forced_last = now
            self.forced_written += 1
        elif (
            answer.kind == "task"
            and answer.after_faults
            and self.resumed is None
            and self.forced_written == self.forced_total
        ):
            self.resumed = time.monotonic()

    def command(self, command: str, args: list[Any]) -> Any:
        if command == "enqueue":
            version, count = args
            queue = self.queues.setdefault(version, deque())
            issued = self.issued[version]
            queue.extend(f"{version}-{i}" for i in range(issued, issued + count))
            self.issued[version] = issued + count
            return len(queue)
        if command == "latency":
            (self.latency,) = args
            return None
        if command == "faults":
            rate, seed = args
            self.fault_rate = rate
            self.rng = random.Random(seed)
            return None
        if command == "fail_next":
            (count,) = args
            self.fail_next_left = self.forced_total = count
            self.forced_first = self.forced_last = self.resumed = None
            self.forced_written = 0
            return None
        if command == "forced":
            return (self.forced_first, self.forced_last, self.forced_written, self.resumed)
        if command == "cpu":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return usage.ru_utime + usage.ru_stime
        if command == "counts":
            (version,) = args
            return dict(self.counts.get(version, Counter()))
        raise ValueError(f"unknown command {command!r}")


def _loads(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def _connection(
    state: _State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    conn = h11.Connection(h11.SERVER)
    target = b""
    body = bytearray()
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                target = event.target
                body = bytearray()
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                answer = state.answer(target, bytes(body))
                if answer.delay > 0:
                    await asyncio.sleep(answer.delay)
                headers = [("content-type", "application/json")] if answer.body else []
                if answer.status != 204:
                    headers.append(("content-length", str(len(answer.body))))
                # Headers and body in one send: split sends meet delayed ACKs.
                out = conn.send(h11.Response(status_code=answer.status, headers=headers))
                if answer.body:
                    out += conn.send(h11.Data(data=answer.body))
                out += conn.send(h11.EndOfMessage())
                writer.write(out)
                state.written(answer)
                if conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
            else:  # ConnectionClosed, or a client that pipelines (PAUSED): done
                break
    except (h11.ProtocolError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(conn: multiprocessing.connection.Connection, lifetime: float) -> None:
    state = _State()
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(
        lambda reader, writer: _connection(state, reader, writer),
        "127.0.0.1",
        0,
        backlog=1024,
    )
    port = server.sockets[0].getsockname()[1]
    conn.send(f"http://127.0.0.1:{port}/api/v1")
    deadline = loop.time() + lifetime
    try:
        while loop.time() < deadline:
            # The pipe is read in a thread so the loop keeps serving meanwhile.
            ready = await loop.run_in_executor(None, conn.poll, 1.0)
            if not ready:
                continue
            try:
                command, *args = conn.recv()
            except (EOFError, OSError):
                return  # the benchmark is gone
            if command == "stop":
                conn.send(None)
                return
            conn.send(state.command(command, args))
    except (EOFError, OSError):
        return  # the benchmark is gone
    finally:
        server.close()


def _server_process(conn: multiprocessing.connection.Connection, lifetime: float) -> None:
    # uvloop where it is installed: the server should be the cheap side of the pair.
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.run(_serve(conn, lifetime))
    else:
        asyncio.run(_serve(conn, lifetime))


class LeanServer:
    """Starts the lean server in a separate process (spawned) and drives it.

    Args:
        lifetime: seconds after which the server stops by itself.
    """

    def __init__(self, lifetime: float = 900.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_server_process, args=(child, lifetime), daemon=True)
        self._process.start()
        child.close()
        self.url: str = self._conn.recv()
        self.token = TOKEN
        self.loop = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"

    def call(self, *command: Any) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def enqueue(self, version: str, count: int) -> None:
        """Queue `count` tasks for app version `version`."""
        self.call("enqueue", version, count)

    def set_latency(self, seconds: float) -> None:
        """Hold every later answer back `seconds`."""
        self.call("latency", seconds)

    def set_faults(self, rate: float, seed: int = 1) -> None:
        """Answer a fraction `rate` of `next` and `report` calls `503`, at random."""
        self.call("faults", rate, seed)

    def fail_next(self, count: int) -> None:
        """Answer the next `count` `next` calls `503`, and time what follows."""
        self.call("fail_next", count)

    def forced(self) -> tuple[float | None, float | None, int, float | None]:
        """Of the last `fail_next`: when its first and last `503` went out, how many
        went out, and when the first task after them went out (`time.monotonic()`)."""
        first, last, written, resumed = self.call("forced")
        return first, last, written, resumed

    def cpu_seconds(self) -> float:
        """CPU-seconds (user + system) the server's process has used so far."""
        seconds: float = self.call("cpu")
        return seconds

    def counts(self, version: str) -> Counter[str]:
        """Calls answered for `version`, by call and status (`"next 200"`, ...)."""
        return Counter(self.call("counts", version))

    def close(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            self.call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._conn.close()
