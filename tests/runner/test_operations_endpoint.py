"""The operations endpoint over real HTTP on 127.0.0.1: probes through a runner's life,
a blocked event loop, metrics without the extra, and its configuration.

Every runner here is the real one, against the real emulator on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import (
    Probe,
    Runner,
    RunnerConfigError,
    RunnerStartupError,
    options_from_env,
)
from tempest_sdk.runner._config import parse_address

from .observability import (
    APP_ID,
    BACKEND_IDS,
    BACKENDS,
    OPTIONS,
    VERSION,
    Widget,
    aget,
    get,
    run_on,
    shop_app,
    wait_until,
)

ANY_PORT = "127.0.0.1:0"
# A liveness threshold no loaded test machine reaches: these tests are not about it.
STEADY = {**OPTIONS, "blocked_loop_warning": 30.0}


def gated_app(started: anyio.Event, release: anyio.Event, finish: anyio.Event) -> tempest.App:
    """An app whose lifespan waits for `release` (the runner stays "starting") and whose
    create handler waits for `finish` (the runner stays "stopping" while it drains)."""
    app = tempest.App(APP_ID, VERSION)
    widget = app.resource(
        "widget", display_name="Widget", description="A widget.", properties=Widget
    )

    @app.lifespan
    async def lifespan() -> AsyncIterator[None]:
        started.set()
        await release.wait()
        yield

    @widget.create
    async def create(ctx: tempest.Context) -> tempest.Resource:
        await finish.wait()
        return tempest.Resource(external_id="w", display_name="w", properties={"color": "x"})

    return app


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_probes_follow_the_runner_from_starting_to_ready_to_draining(backend):
    answers: dict[str, tuple[int, str]] = {}

    async def scenario() -> None:
        started, release, finish = anyio.Event(), anyio.Event(), anyio.Event()
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            runner = Runner(
                gated_app(started, release, finish),
                client,
                operations_address=ANY_PORT,
                **STEADY,
            )
            async with anyio.create_task_group() as group:
                group.start_soon(runner.run)
                await started.wait()  # inside the lifespan: starting
                url = runner.operations_url
                assert url is not None and url.startswith("http://127.0.0.1:")
                for path in ("/readyz", "/livez"):
                    status, kind, body = await aget(url + path)
                    answers[f"starting {path}"] = (status, body)
                    assert kind == "text/plain; charset=utf-8"
                release.set()
                await runner.ready()
                for path in ("/readyz", "/livez"):
                    status, _, body = await aget(url + path)
                    answers[f"ready {path}"] = (status, body)
                task_id = emulator.enqueue_operation(APP_ID, VERSION, "widget", "create")
                await wait_until(lambda: runner.in_flight == 1, "the task to run")
                group.start_soon(runner.shutdown)
                await wait_until(lambda: runner.state == "stopping", "the drain")
                for path in ("/readyz", "/livez"):
                    status, _, body = await aget(url + path)
                    answers[f"draining {path}"] = (status, body)
                finish.set()
            assert emulator.reported() == [task_id]
            # The endpoint stopped with the runner: its port is closed.
            assert runner.operations_url is None
            with pytest.raises(urllib.error.URLError, match="Connection refused"):
                await anyio.to_thread.run_sync(lambda: get(url + "/livez"))

    run_on(backend, scenario)
    assert answers["starting /readyz"] == (503, "starting: connecting and making the first poll\n")
    assert answers["starting /livez"] == (200, "alive: the runner is starting\n")
    assert answers["ready /readyz"] == (200, f"ready: serving {APP_ID} {VERSION}\n")
    assert answers["ready /livez"] == (200, "alive: the runner is running\n")
    assert answers["draining /readyz"] == (
        503,
        "draining: no new tasks, running tasks finishing\n",
    )
    assert answers["draining /livez"] == (200, "alive: the runner is stopping\n")


@pytest.mark.parametrize("backend", BACKENDS[:2], ids=BACKEND_IDS[:2])
def test_liveness_fails_while_a_handler_blocks_the_event_loop(backend):
    seen: list[tuple[int, str]] = []
    after: dict[str, Any] = {}

    def block_until_not_alive(url: str) -> None:
        # What a careless `async def` handler does: blocking calls on the event loop.
        # It blocks until the endpoint, on its own thread, says the loop is not alive.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, _, body = get(url + "/livez")
            seen.append((status, body))
            if status == 503:
                return
            time.sleep(0.02)

    async def scenario() -> None:
        emulator = Emulator()
        app = tempest.App(APP_ID, VERSION)
        widget = app.resource(
            "widget", display_name="Widget", description="A widget.", properties=Widget
        )
        holder: dict[str, str] = {}

        @widget.create
        async def create(ctx: tempest.Context) -> tempest.Resource:
            block_until_not_alive(holder["url"])
            return tempest.Resource(external_id="w", display_name="w", properties={"color": "x"})

        options = {**OPTIONS, "blocked_loop_warning": 0.2}
        async with (
            emulator.serve(),
            emulator.client() as client,
            Runner(app, client, operations_address=ANY_PORT, **options) as runner,
        ):
            assert runner.operations_url is not None
            holder["url"] = runner.operations_url
            emulator.enqueue_operation(APP_ID, VERSION, "widget", "create")
            await emulator.wait_for_reports_async(1)
            # The loop answers again (at once on a quiet machine), and the watchdog
            # counted the block.
            with anyio.fail_after(15):
                while (await aget(runner.operations_url + "/livez"))[0] != 200:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            _, _, metrics = await aget(runner.operations_url + "/metrics")
            after["metrics"] = metrics

    run_on(backend, scenario)
    status, body = seen[-1]
    assert status == 503, seen
    assert "the event loop has not answered for" in body
    assert "threshold 0.2s" in body
    blocked = _sample(after["metrics"], "tempest_event_loop_blocked_seconds_total")
    assert blocked >= 0.2


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the scrape:\n{text}")


async def test_readiness_fails_while_the_token_is_refused():
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, operations_address=ANY_PORT, **STEADY) as runner,
    ):
        url = runner.operations_url
        assert url is not None
        assert (await aget(url + "/readyz"))[0] == 200
        emulator.inject("apps.operations.next", status=401, message="token revoked")
        await wait_until(lambda: runner.readiness().status_code == 503, "not ready")
        status, _, body = await aget(url + "/readyz")
        assert status == 503
        assert body.startswith(f"the control plane refused the token for app {APP_ID} {VERSION}")
        emulator.clear_faults()
        await wait_until(lambda: runner.readiness().ok, "ready again")
        assert (await aget(url + "/readyz"))[0] == 200


async def test_metrics_answer_501_naming_the_extra_without_prometheus_client(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, operations_address=ANY_PORT, **STEADY) as runner,
    ):
        url = runner.operations_url
        assert url is not None
        assert (await aget(url + "/livez"))[0] == 200
        assert (await aget(url + "/readyz"))[0] == 200
        status, _, body = await aget(url + "/metrics")
    assert status == 501
    assert "pip install 'tempest-sdk[prometheus]'" in body


async def test_unknown_paths_and_methods_say_what_is_served():
    emulator = Emulator()
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(shop_app(), client, operations_address=ANY_PORT, **STEADY) as runner,
    ):
        url = runner.operations_url
        assert url is not None
        not_found = await aget(url + "/health")
        posted = await aget(url + "/livez", method="POST")
        head = await aget(url + "/readyz", method="HEAD")
    assert not_found[0] == 404
    assert not_found[2] == "not found: /health; this endpoint serves /livez, /readyz, /metrics\n"
    assert posted[0] == 405
    assert head == (200, "text/plain; charset=utf-8", "")


async def test_an_address_in_use_is_a_startup_error_that_says_how_to_fix_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        emulator = Emulator()
        async with emulator.serve(), emulator.client() as client:
            runner = Runner(shop_app(), client, operations_address=f"127.0.0.1:{port}", **STEADY)
            with pytest.raises(RunnerStartupError) as info:
                await runner.run()
    message = str(info.value)
    assert f"cannot serve the operations endpoint on 127.0.0.1:{port}" in message
    assert "TEMPEST_RUNNER_OPERATIONS_ADDRESS" in message
    assert emulator.request_counts.total() == 0  # it failed before any call


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8081", ("127.0.0.1", 8081)),
        (":8081", ("127.0.0.1", 8081)),
        ("0.0.0.0:8081", ("0.0.0.0", 8081)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9000", ("::1", 9000)),
    ],
)
def test_addresses_default_to_loopback(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["", "host", "1.2.3.4:", ":99999", "::1:80", "a b:80", ":-1"])
def test_a_bad_address_is_a_config_error_showing_the_forms(address):
    with pytest.raises(RunnerConfigError) as info:
        Runner(shop_app(), operations_address=address)
    assert "operations_address must be HOST:PORT, :PORT or PORT" in str(info.value)
    assert "0.0.0.0:8081 in a container" in str(info.value)


def test_the_address_comes_from_the_environment():
    env = {"TEMPEST_RUNNER_OPERATIONS_ADDRESS": "0.0.0.0:8081"}
    assert options_from_env(env).operations_bind == ("0.0.0.0", 8081)
    assert options_from_env({"TEMPEST_RUNNER_OPERATIONS_ADDRESS": "off"}).operations_bind is None
    assert options_from_env({}).operations_address is None
    with pytest.raises(RunnerConfigError, match="TEMPEST_RUNNER_OPERATIONS_ADDRESS='nope'"):
        options_from_env({"TEMPEST_RUNNER_OPERATIONS_ADDRESS": "nope"})


def test_importing_the_sdk_loads_no_metrics_tracing_or_server_module():
    code = (
        "import json, sys\n"
        "import tempest_sdk, tempest_sdk.runner\n"
        "from tempest_sdk.runner import OpenTelemetry, PrometheusMetrics, Probe\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(out.stdout.splitlines()[-1])
    heavy = [
        name
        for name in loaded
        if name.split(".")[0] in {"prometheus_client", "opentelemetry"}
        or name in {"http.server", "tempest_sdk.runner._operations"}
    ]
    assert heavy == []


def test_serve_takes_the_operations_address_flag(tmp_path):
    shop = Path(__file__).resolve().parents[1] / "cli" / "apps" / "shop_v1.py"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Emulator().serve_in_thread() as emulator:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
        env.update(TEMPEST_TOKEN=emulator.token, TEMPEST_API_ENDPOINT=emulator.url)
        args = ["serve", str(shop), "--operations-address", f"127.0.0.1:{port}"]
        process = subprocess.Popen(
            [sys.executable, "-m", "tempest_sdk", *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            ready: tuple[int, str, str] | None = None
            while (ready is None or ready[0] != 200) and time.monotonic() < deadline:
                try:
                    ready = get(f"http://127.0.0.1:{port}/readyz")
                except urllib.error.URLError:  # not listening yet
                    assert process.poll() is None, process.communicate()
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
    assert ready == (200, "text/plain; charset=utf-8", "ready: serving shop v1\n")
    assert process.returncode == 0, err


# --- the server's bounds: timeouts, the connection cap, paced scrapes ------------------

HALF_SENT = b"GET /livez HTTP/1.1\r\nHost: x\r\n"  # the blank line that ends it never comes


def alive() -> Probe:
    return Probe(True, "alive: test")


def not_ready() -> Probe:
    return Probe(False, "starting: test")


@pytest.fixture
def serve_operations():
    """Starts `OperationsServer`s on 127.0.0.1 and stops them after the test."""
    from tempest_sdk.runner._operations import OperationsServer

    servers: list[OperationsServer] = []

    def start(registry: Any = None, **bounds: Any) -> OperationsServer:
        server = OperationsServer("127.0.0.1", 0, alive, not_ready, registry, **bounds)
        servers.append(server)
        return server

    yield start
    for server in servers:
        anyio.run(server.aclose)


def connect(url: str) -> socket.socket:
    host, port = parse_address(url.removeprefix("http://"))
    return socket.create_connection((host, port), timeout=10)


def closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server closes the connection (True), or 10 s pass (False)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass  # aborted: closed all the same
    return True


def wait_for(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_idle_half_sent_and_kept_alive_connections_are_closed_after_the_timeout(
    serve_operations,
):
    server = serve_operations(timeout=0.3)
    threads = threading.active_count()
    started = time.monotonic()
    idle = [connect(server.url) for _ in range(20)]
    half = [connect(server.url) for _ in range(20)]
    for sock in half:
        sock.sendall(HALF_SENT)
    kept = connect(server.url)
    kept.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_for(lambda: server.connections == 41, "41 open connections")
    # One thread serves them all.
    assert threading.active_count() == threads
    for sock in [*idle, *half, kept]:
        with sock:
            assert closed_by_server(sock), "a connection was left open"
    assert time.monotonic() - started >= 0.3
    wait_for(lambda: server.connections == 0, "every connection forgotten")
    # The server still answers.
    assert get(server.url + "/livez") == (200, "text/plain; charset=utf-8", "alive: test\n")


def test_a_half_sent_request_does_not_stay_open_past_the_timeout(serve_operations):
    server = serve_operations(timeout=0.5)
    with connect(server.url) as sock:
        sock.sendall(HALF_SENT[:10])
        time.sleep(0.2)
        sock.sendall(HALF_SENT[10:])  # more bytes do not buy more time
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < 5


def test_the_connection_cap_holds_and_a_probe_still_gets_in(serve_operations):
    server = serve_operations(timeout=30.0, max_connections=5)
    first = [connect(server.url) for _ in range(5)]
    wait_for(lambda: server.connections == 5, "5 open connections")
    # At the cap, a probe gets in: the connection idle the longest makes room.
    assert get(server.url + "/livez")[0] == 200
    with first[0]:
        assert closed_by_server(first[0])
    more = []
    for _ in range(30):
        more.append(connect(server.url))
        assert server.connections <= 5
    assert get(server.url + "/readyz") == (503, "text/plain; charset=utf-8", "starting: test\n")
    wait_for(lambda: server.connections <= 5, "at most 5 connections")
    assert server.connections <= 5
    open_now = 0
    for sock in [*first[1:], *more]:
        sock.settimeout(0.05)
        try:
            open_now += sock.recv(1) != b""  # nothing to read, so still open
        except TimeoutError:
            open_now += 1
        except ConnectionResetError:
            pass
        sock.close()
    assert open_now <= 5


def test_scrapes_show_every_change_and_concurrent_scrapes_all_answer(serve_operations):
    from prometheus_client import CollectorRegistry, Counter

    registry = CollectorRegistry()
    counter = Counter("probe_hits", "Test counter.", registry=registry)
    server = serve_operations(registry=registry)
    for expected in (0.0, 1.0, 2.0):
        status, kind, text = get(server.url + "/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        assert f"probe_hits_total {expected}" in text
        counter.inc()
    answers: list[tuple[int, str, str]] = []

    def scrape() -> None:
        answers.append(get(server.url + "/metrics"))

    threads = [threading.Thread(target=scrape) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 8
    assert all(a[0] == 200 and "probe_hits_total 3.0" in a[2] for a in answers)


def test_a_failing_collector_answers_500_and_the_log_says_why(serve_operations, caplog):
    from prometheus_client import CollectorRegistry

    class Broken:
        def collect(self) -> Any:
            raise RuntimeError("collector broke")

    registry = CollectorRegistry()
    registry.register(Broken())  # type: ignore[arg-type]
    server = serve_operations(registry=registry)
    status, _, body = get(server.url + "/metrics")
    assert status == 500
    assert "collecting metrics failed" in body
    wait_for(lambda: "collector broke" in caplog.text, "the logged traceback")


def test_a_client_that_does_not_read_its_answer_is_cut_after_the_timeout(serve_operations):
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily

    class Huge:
        """One sample with a 32 MiB label: more than the kernel's buffers hold."""

        def collect(self) -> Any:
            family = GaugeMetricFamily("huge", "A big answer.", labels=["blob"])
            family.add_metric(["x" * 32 * 2**20], 1.0)
            yield family

    registry = CollectorRegistry()
    registry.register(Huge())  # type: ignore[arg-type]
    server = serve_operations(registry=registry, timeout=0.5)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = parse_address(server.url.removeprefix("http://"))
        sock.connect((host, port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        # Never read: the answer cannot leave; the server gives up on the connection.
        wait_for(lambda: server.connections == 1, "the connection")
        wait_for(lambda: server.connections == 0, "the connection cut", timeout=20)
    assert get(server.url + "/livez")[0] == 200
