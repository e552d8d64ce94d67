"""Shared by the tempo-events tests: the example's modules, and the service run by uvicorn.

The example's directory name has a dash, so it is no package: its modules are imported
from the directory itself, and their names (tempo_*) are checked to be this example's.
This helper module has a name of its own (not conftest.py) so that importing it can
never pick up another directory's conftest.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[1]
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

APP_ID, VERSION = "tempo-events", "v1"
# Tempo's credentials as the tests configure them; never expected in any output.
USERNAME, PASSWORD = "tempo-publisher", "basic-pass-7f3a9c"
API_KEY_HEADER, API_KEY = "X-Tempo-Key", "api-key-41c2e8d6"


# The example's modules, imported once the path is set, for the tests to import from
# here with their types; refused if a same-named module from elsewhere came first.
import tempo_app as tempo_app  # noqa: E402
import tempo_service as tempo_service  # noqa: E402
import tempo_store as tempo_store  # noqa: E402

for _module in (tempo_app, tempo_service, tempo_store):
    _where = Path(str(_module.__file__)).resolve().parent
    assert _where == EXAMPLE, f"{_module.__name__} was imported from {_where}, not {EXAMPLE}"


def basic(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    """The Authorization header of Tempo's Basic mode."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def api_key(value: str = API_KEY) -> dict[str, str]:
    """The header of Tempo's API-key mode."""
    return {API_KEY_HEADER: value}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Service:
    """A `python tempo_service.py` process (uvicorn on uvloop), and its output."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            answer = connection.getresponse()
            raw = answer.read()
            return Answer(
                answer.status,
                {key.lower(): value for key, value in answer.getheaders()},
                json.loads(raw) if raw else None,
            )
        finally:
            connection.close()

    def send_event(
        self,
        payload: Any,
        *,
        request_id: str | None,
        auth: Mapping[str, str],
        content_type: str = "application/json",
    ) -> Answer:
        """POST one event as Tempo does: JSON body, X-Request-Id = X-Correlation-Id."""
        headers = {"Content-Type": content_type, **auth}
        if request_id is not None:
            headers |= {"X-Request-Id": request_id, "X-Correlation-Id": request_id}
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.request("POST", "/tempo/events", body, headers)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        """Wait until `condition()` holds; fail with `what` and the service's output."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the service exited ({self.process.returncode}) while waiting for "
                    f"{what}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}:\n{self.tail()}"
                )
            time.sleep(0.02)

    def wait_until_ready(self) -> Answer:
        answers: list[Answer] = []

        def ready() -> bool:
            try:
                answers.append(self.request("GET", "/readyz"))
            except OSError:  # not listening yet: the lifespan starts the runner first
                return False
            return True

        self.wait_for(ready, "the service to answer GET /readyz", timeout=60)
        return answers[-1]

    def stop(self) -> int:
        """Send SIGTERM; wait (bounded) for the process to end; return its exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "the service did not exit within 60s of SIGTERM:\n" + self.tail()
            ) from None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(endpoint: str, token: str, database: Path, **extra: str) -> dict[str, str]:
    """The service's environment: this process's, minus anything that would win over ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPEST_", "TEMPO_", "UVICORN_"))
    }
    return env | {
        "TEMPEST_API_ENDPOINT": endpoint,
        "TEMPEST_TOKEN": token,
        # Idle polls stay frequent, so tasks enqueued after the start are picked up soon.
        "TEMPEST_RUNNER_POLL_INTERVAL_MAX": "0.2",
        "TEMPEST_RUNNER_SHUTDOWN_GRACE": "20",
        "TEMPO_BASIC_USERNAME": USERNAME,
        "TEMPO_BASIC_PASSWORD": PASSWORD,
        "TEMPO_API_KEY_HEADER": API_KEY_HEADER,
        "TEMPO_API_KEY": API_KEY,
        "TEMPO_EVENTS_DATABASE": str(database),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def running_service(env: Mapping[str, str], log: Path) -> Generator[Service]:
    """Run the service under uvicorn on uvloop, on loopback; it is always killed at the end."""
    pytest.importorskip("uvloop", reason="uvloop is not installed")
    port = free_port()
    command = [
        sys.executable,
        "tempo_service.py",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=EXAMPLE, env=dict(env), stdout=sink, stderr=subprocess.STDOUT
        )
    service = Service(process, port, log)
    try:
        yield service
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
