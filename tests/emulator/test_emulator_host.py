"""The emulator as a dev server: a random token unless one is given, and an admin
endpoint that answers only requests addressed to loopback (no DNS rebinding)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from tempest_sdk.emulator import DEFAULT_TOKEN, Emulator, operation_request
from tempest_sdk.emulator._admin import is_loopback_host

from .conftest import APP, VERSION

TASKS = "/_emulator/tasks"


def test_an_emulator_given_no_token_makes_a_random_one() -> None:
    first, second = Emulator(), Emulator()
    assert re.fullmatch(r"emu-[A-Za-z0-9_-]{24}", first.token)
    assert first.token != second.token
    assert DEFAULT_TOKEN not in (first.token, second.token)
    # Seeded ids stay reproducible; the token never is.
    assert Emulator(seed=1).token != Emulator(seed=1).token


def test_a_given_token_is_kept() -> None:
    assert Emulator(token=DEFAULT_TOKEN).token == "emulator-token"
    assert Emulator(token="dev-token").token == "dev-token"
    with pytest.raises(ValueError, match="non-empty"):
        Emulator(token="")


@pytest.fixture
def served() -> Iterator[Emulator]:
    with Emulator().serve_in_thread() as emulator:
        yield emulator


def _root(emulator: Emulator) -> str:
    return emulator.url.removesuffix(emulator.base_path)


def _port(emulator: Emulator) -> int:
    return int(_root(emulator).rpartition(":")[2])


def _enqueue(emulator: Emulator, host: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {emulator.token}"}
    if host is not None:
        headers["host"] = host
    task = operation_request("example", "create", input={"color": "blue"})
    with httpx.Client(base_url=_root(emulator), timeout=10) as http:
        return http.post(
            TASKS, json={"app_id": APP, "version": VERSION, "task": task}, headers=headers
        )


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "LocalHost",
        "127.0.0.1",
        "127.8.9.10:{port}",
        "[::1]:{port}",
    ],
)
def test_the_admin_endpoint_answers_loopback_hosts(served: Emulator, host: str) -> None:
    answer = _enqueue(served, host.format(port=_port(served)))
    assert answer.status_code == 201, answer.text
    assert served.queued(APP, VERSION) == [answer.json()["task_id"]]


@pytest.mark.parametrize(
    "host",
    [
        "rebind.example:{port}",  # a page's own name, made to resolve to 127.0.0.1
        "rebind.example",
        "127.0.0.1.rebind.example:{port}",
        "localhost.rebind.example",
        "10.0.0.7:{port}",
        "[::2]:{port}",
    ],
)
def test_the_admin_endpoint_refuses_other_hosts_with_403(served: Emulator, host: str) -> None:
    host = host.format(port=_port(served))
    answer = _enqueue(served, host)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert "only requests addressed to this machine's loopback" in error
    assert "DNS rebinding" in error
    assert repr(host) in error
    assert served.queued(APP, VERSION) == []
    # Reading a task's status (its reports) is refused the same way.
    task_id = served.enqueue_operation(APP, VERSION, "example", "create")
    with httpx.Client(base_url=_root(served), timeout=10) as http:
        status = http.get(
            f"{TASKS}/{task_id}",
            headers={"authorization": f"Bearer {served.token}", "host": host},
        )
    assert status.status_code == 403
    assert "reports" not in status.text


def test_a_request_without_host_is_refused(served: Emulator) -> None:
    request = (
        f"GET {TASKS}/some-task HTTP/1.0\r\nAuthorization: Bearer {served.token}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", _port(served)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith((b"HTTP/1.0 403", b"HTTP/1.1 403")), answer
    assert b"no Host header" in answer


def test_the_contract_endpoints_still_ask_only_for_the_token(served: Emulator) -> None:
    # The apps' API is Tempest's: a client may name the emulator however it reaches
    # it (a container's host name, say); the random token is what guards it.
    with httpx.Client(base_url=served.url, timeout=10) as http:
        answer = http.post(
            "/apps.operations.next",
            json={"app_id": APP, "version": VERSION},
            headers={"authorization": f"Bearer {served.token}", "host": "emulator.internal"},
        )
        guessed = http.post(
            "/apps.operations.next",
            json={"app_id": APP, "version": VERSION},
            headers={"authorization": f"Bearer {DEFAULT_TOKEN}"},
        )
    assert answer.status_code == 204
    assert guessed.status_code == 401


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost.", True),
        ("localhost:8900", True),
        ("127.0.0.1", True),
        ("127.255.0.1:1", True),
        ("[::1]", True),
        ("[::1]:8900", True),
        ("[::ffff:127.0.0.1]:8900", True),
        (None, False),
        ("", False),
        ("0.0.0.0:8900", False),
        ("::1", False),  # an IPv6 host goes in brackets
        ("[::1", False),
        ("[::1]x", False),
        ("localhost:port", False),
        ("127.0.0.1:", False),
        ("evil.example", False),
        ("localhost.evil.example:8900", False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
