"""The operations endpoint under idle, half-sent and scraping clients, on 127.0.0.1.

Every client runs in a child process of its own, so the figures are those of the
runner's process:

- **held connections**: 2,000 sockets that connect and send nothing, then 2,000 that
  send `GET /livez HTTP/1.1\\r\\nHost: x\\r\\n` and stop, against a runner serving the
  endpoint. Printed: the runner process's thread count and RSS before and at their
  peak (the bound: one thread for the endpoint whatever the clients, and at most
  `max_connections` connections held), the longest any socket stayed open (target:
  within the endpoint's timeout), and the slowest `/livez` answer to a probe asking
  every 50 ms throughout (target: < 1 s);
- **scrapers**: tasks per second of a runner with a no-op handler draining tasks from
  the emulator (its own process) with the endpoint on, without and with 8 clients
  scraping `/metrics` in a loop; rounds interleaved, medians compared (target: the
  scrapers cost <= 10 %). The CPU time of the runner's process per task is printed
  beside it: on a loaded machine throughput swings by more than 10 % from round to
  round, the CPU a task takes much less. (Scrapes cut when a round's runner stops
  show as `RemoteDisconnected` scraper errors.)

    python benchmarks/bench_operations.py            # about two minutes
    python benchmarks/bench_operations.py --quick
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import multiprocessing.connection
import os
import resource
import select
import socket
import statistics
import sys
import threading
import time
from typing import Any

import anyio
from bench_runner import EmulatorProcess, runner_rate

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.runner import Runner

HALF_SENT = b"GET /livez HTTP/1.1\r\nHost: x\r\n"
TIMEOUT = 5.0  # the endpoint's default: seconds to send a request, or to stay idle
MAX_CONNECTIONS = 256  # the endpoint's default
PAGE = os.sysconf("SC_PAGE_SIZE")


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def process_figures() -> tuple[int, int]:
    """(threads, RSS bytes) of this process, as the kernel counts them."""
    with open("/proc/self/status") as status:
        threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * PAGE
    return threads, rss


# -- the clients, in a child process ---------------------------------------------------------


def _livez_prober(
    port: int, stop: threading.Event, worst: list[float], failures: list[str]
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/livez")
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                failures.append(f"/livez answered {answer.status}")
        except OSError as exc:
            failures.append(f"/livez: {type(exc).__name__}: {exc}")
        finally:
            connection.close()
        worst[0] = max(worst[0], time.perf_counter() - started)
        stop.wait(0.05)


def _holders(
    port: int, count: int, payload: bytes, conn: multiprocessing.connection.Connection
) -> None:
    """Opens `count` sockets that send `payload` and stop; reports when each was closed."""
    raise_fd_limit(count + 256)
    stop = threading.Event()
    worst, failures = [0.0], []  # type: ignore[var-annotated]
    prober = threading.Thread(target=_livez_prober, args=(port, stop, worst, failures))
    prober.start()
    opened: dict[int, tuple[socket.socket, float]] = {}
    refused = 0
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            refused += 1
            continue
        if payload:
            sock.sendall(payload)
        sock.setblocking(False)
        opened[sock.fileno()] = (sock, time.monotonic())
    conn.send(("opened", len(opened)))
    longest = 0.0
    poller = select.poll()
    for fd in opened:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + TIMEOUT + 20
    while opened and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            sock, since = opened[fd]
            try:
                if sock.recv(4096):
                    continue  # an answer: not closed yet
            except BlockingIOError:
                continue
            except ConnectionResetError:
                pass
            longest = max(longest, time.monotonic() - since)
            poller.unregister(fd)
            del opened[fd]
            sock.close()
    still_open = len(opened)
    for sock, _ in opened.values():
        sock.close()
    time.sleep(0.5)  # a few more probes once they are gone
    stop.set()
    prober.join()
    conn.send(("done", longest, still_open, refused, worst[0], failures[:5]))


def _scrapers(port: int, clients: int, conn: multiprocessing.connection.Connection) -> None:
    """`clients` threads scraping /metrics in a loop (keep-alive) until told to stop."""
    stop = threading.Event()
    counts = [0] * clients
    errors: list[str] = []

    def scrape(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                connection.request("GET", "/metrics")
                answer = connection.getresponse()
                answer.read()
                if answer.status == 200:
                    counts[index] += 1
            except (OSError, http.client.HTTPException) as exc:
                # Refused: the runner's endpoint is not up yet, or stopped already.
                if not isinstance(exc, ConnectionRefusedError) and len(errors) < 5:
                    errors.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                stop.wait(0.01)
        connection.close()

    threads = [threading.Thread(target=scrape, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    conn.send("started")
    conn.recv()  # stop
    stop.set()
    for thread in threads:
        thread.join(15)
    conn.send((sum(counts), errors))


def start_child(target: Any, *args: Any) -> tuple[multiprocessing.process.BaseProcess, Any]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(*args, child), daemon=True)
    process.start()
    return process, parent


# -- the measurements ------------------------------------------------------------------------


def idle_app() -> tempest.App:
    app = tempest.App("ops-bench", "v1")
    app.resource("thing", display_name="Thing", description="A benchmark thing.")
    return app


async def held_connections(count: int) -> bool:
    ok = True
    emulator = Emulator()
    async with emulator.serve(), emulator.client() as client:
        runner = Runner(
            idle_app(),
            client,
            operations_address="127.0.0.1:0",
            health_interval=3600.0,
            blocked_loop_warning=None,
        )
        async with runner:
            url = runner.operations_url
            assert url is not None
            port = int(url.rsplit(":", 1)[1])
            for label, payload in (("idle", b""), ("half-sent", HALF_SENT)):
                threads0, rss0 = process_figures()
                peak_threads, peak_rss = threads0, rss0
                process, conn = start_child(_holders, port, count, payload)
                result = None
                with anyio.fail_after(TIMEOUT + 120):
                    while result is None:
                        if conn.poll():
                            message = conn.recv()
                            if message[0] == "done":
                                result = message
                        threads, rss = process_figures()
                        peak_threads, peak_rss = max(peak_threads, threads), max(peak_rss, rss)
                        await anyio.sleep(0.02)
                process.join(10)
                _, longest, still_open, refused, worst, failures = result
                print(f"\n{count:,} {label} connections ({refused} refused at connect):")
                line("threads of the runner's process", f"{threads0} -> peak {peak_threads}")
                line(
                    "RSS of the runner's process",
                    f"{rss0 / 2**20:.1f} -> peak {peak_rss / 2**20:.1f} MiB",
                    f"(+{(peak_rss - rss0) / 2**20:.1f} MiB)",
                )
                line(
                    "longest a socket stayed open",
                    f"{longest:.2f} s",
                    f"(target <= the {TIMEOUT:g} s timeout; {still_open} still open at the end)",
                )
                line("slowest /livez answer throughout", f"{worst * 1000:.0f} ms", "(target < 1 s)")
                if failures:
                    print(f"    /livez failures: {failures}")
                ok &= (
                    peak_threads <= threads0 + 1
                    and still_open == 0
                    and longest <= TIMEOUT + 0.5
                    and worst < 1.0
                    and not failures
                )
    return ok


async def scraped_throughput(tasks: int, rounds: int) -> bool:
    emulator = EmulatorProcess()
    versions = iter(f"v{i}" for i in range(1, 1000))
    rates: dict[str, list[float]] = {"without scrapers": [], "with 8 scrapers": []}
    cpu: dict[str, list[float]] = {label: [] for label in rates}
    scrapes: list[float] = []
    try:
        await runner_rate(emulator, next(versions), tasks // 4, 0.0)  # warm-up
        for round_ in range(rounds):
            # Alternating which goes first, so that a drift of the machine's load
            # weighs on both alike.
            for label in list(rates)[:: 1 if round_ % 2 == 0 else -1]:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    port = probe.getsockname()[1]
                process = conn = None
                if label != "without scrapers":
                    process, conn = start_child(_scrapers, port, 8)
                    conn.recv()
                started = time.perf_counter()
                cpu_started = time.process_time()
                rate, _ = await runner_rate(
                    emulator,
                    next(versions),
                    tasks,
                    0.0,
                    operations_address=f"127.0.0.1:{port}",
                )
                rates[label].append(rate)
                cpu[label].append((time.process_time() - cpu_started) / tasks)
                if conn is not None and process is not None:
                    conn.send("stop")
                    done, errors = conn.recv()
                    process.join(10)
                    if errors:
                        print(f"    scraper errors: {errors}")
                    scrapes.append(done / (time.perf_counter() - started))
    finally:
        emulator.close()
    without = statistics.median(rates["without scrapers"])
    with_scrapers = statistics.median(rates["with 8 scrapers"])
    print(f"\nTasks/s of a runner (no-op handler, concurrency 16), {rounds} rounds of {tasks:,}:")
    for label, values in rates.items():
        line(
            label,
            f"{statistics.median(values):.0f}",
            f"(rounds: {', '.join(f'{v:.0f}' for v in values)})",
        )
    cost = 1 - with_scrapers / without
    paired = statistics.median(
        1 - w / wo
        for w, wo in zip(rates["with 8 scrapers"], rates["without scrapers"], strict=True)
    )
    line("cost of the scrapers", f"{cost * 100:.1f} %", "(target <= 10 %; of the medians)")
    line("cost, median of the rounds' pairs", f"{paired * 100:.1f} %")
    line("scrapes answered per second", f"{statistics.median(scrapes):.0f}")
    # CPU time of the runner's process (every thread, the endpoint's too) per task: the
    # scrapes' own cost, less swayed than throughput by other load on the machine.
    cpu_without = statistics.median(cpu["without scrapers"])
    cpu_with = statistics.median(cpu["with 8 scrapers"])
    line(
        "CPU of the runner's process per task",
        f"{cpu_without * 1e6:.0f} -> {cpu_with * 1e6:.0f} us",
        f"({(cpu_with / cpu_without - 1) * 100:+.1f} % with the scrapers)",
    )
    return cost <= 0.10


def line(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<40} {value:>22}  {note}")


async def main(args: argparse.Namespace) -> int:
    raise_fd_limit(4096)
    count = 500 if args.quick else 2000
    held = await held_connections(count)
    scraped = await scraped_throughput(1000 if args.quick else 3000, 2 if args.quick else 6)
    if held and scraped:
        print("\nAll targets met.")
        return 0
    print("\nBELOW TARGET.")
    return 1


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 connections, fewer tasks")
    args = parser.parse_args(argv)
    return int(anyio.run(main, args))


if __name__ == "__main__":
    sys.exit(cli())
