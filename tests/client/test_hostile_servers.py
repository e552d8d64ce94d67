"""Servers that answer badly on purpose, on 127.0.0.1: every call ends in a typed error
(or works), on every client flavour, and memory stays bounded.

- An answer over `max_response_size`, raw (an honest one, a huge Content-Length, a body
  that never ends) or once inflated (a gzip or deflate bomb), is
  `APIResponseTooLargeError`, after one attempt, with the cap in `.limit`.
- Malformed HTTP (garbage, a bad chunk, a header block that never ends) is an
  `APIConnectionError`, never a raw aiohttp or httpcore exception.
- Junk pushed into an idle keep-alive connection does not break the next call.
- A refused connection is an `APIConnectionError`, never an `APITimeoutError`.

The memory tests run each scenario in a fresh Python process (this module, run with
`-m`) that reports how much its peak RSS grew during the hostile call.
"""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import pytest

from tempest_sdk.client import (
    DEFAULT_MAX_RESPONSE_SIZE,
    APIConnectionError,
    APIError,
    APIResponseTooLargeError,
    APITimeoutError,
    AsyncTempestClient,
)
from tempest_sdk.models import StandardResponse

from .cases import HEALTH
from .servers import (
    FLAVOURS,
    GUARD,
    HOST,
    TOKEN,
    Budget,
    Caller,
    HostileServer,
    MiB,
    bomb,
    clean_network_env,
    drive,
    refusing_port,
    sized_json,
)

# On trio, an answer the client stops reading at the cap leaves httpx's and httpcore's
# own async generators (`__aiter__` of their streams) to the garbage collector, and
# trio warns about each: encode/httpx#3686, encode/httpcore#1019. The connection itself
# is closed at once (`Response.aclose`); only the generators' cleanup is late.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx.:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Async generator 'httpcore.:ResourceWarning"),
]

CAP = 1 * MiB
"""A small `max_response_size`, so that going over it is quick."""

NEXT_PATH = "/api/v1/apps.operations.next"
HEALTH_PATH = "/api/v1/apps.versions.health"
ROOT = Path(__file__).resolve().parents[2]


async def warm_then_health(call: Caller) -> Any:
    """A good `next` call first (so the hostile answer comes on a used connection), then
    the `report_health` call that gets the hostile answer."""
    assert await call("next_task", "helloworld", "v1") is None
    return await call("report_health", HEALTH)


def hostile_health(flavour: str, server: HostileServer, **options: Any) -> Any:
    """`warm_then_health` against `server` with a client of `flavour` (1 MiB cap unless
    told otherwise)."""
    options.setdefault("max_response_size", CAP)
    return drive(flavour, warm_then_health, endpoint=server.url, **options)


# -- answers over the cap ----------------------------------------------------------------------

TOO_LARGE_KINDS = [
    "gzip-bomb",
    "deflate-bomb",
    "endless-chunked",
    "endless-close",
    "huge-length",
    "oversized",
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("kind", TOO_LARGE_KINDS)
def test_an_answer_over_the_cap_is_response_too_large_and_not_retried(flavour, kind):
    """A bomb (0.5 MiB inflating to 512 MiB), a body that never ends (chunked, or until
    the connection closes), a Content-Length of 1 TiB, or an honest 2 MiB answer, each
    against a 1 MiB cap: `APIResponseTooLargeError` with `.limit` the cap, after a
    single attempt though retries were allowed."""
    if kind.endswith("-bomb"):
        assert len(bomb(kind.removesuffix("-bomb"))) < CAP  # only inflating goes over
    with HostileServer(kind) as server, pytest.raises(APIResponseTooLargeError) as caught:
        hostile_health(flavour, server, max_retries=2)

    error = caught.value
    assert isinstance(error, APIError)
    assert not isinstance(error, APIConnectionError)
    assert error.limit == CAP
    assert error.attempts == 1
    assert error.endpoint == "/apps.versions.health"
    assert server.paths == [NEXT_PATH, HEALTH_PATH]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("encoding", [None, "gzip", "deflate"])
def test_the_cap_is_inclusive_raw_and_decompressed(flavour, encoding):
    """An answer of exactly `max_response_size` bytes (once decompressed, when it is
    compressed) is read and parsed; one byte more is too large."""
    with HostileServer("oversized", size=CAP, encoding=encoding) as server:
        result = hostile_health(flavour, server)
    assert isinstance(result, StandardResponse)
    assert result.message == json.loads(sized_json(CAP))["message"]

    with (
        HostileServer("oversized", size=CAP + 1, encoding=encoding) as server,
        pytest.raises(APIResponseTooLargeError) as caught,
    ):
        hostile_health(flavour, server)
    assert caught.value.limit == CAP


# -- malformed HTTP ----------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("kind", ["garbage-status", "bad-chunked", "endless-headers"])
def test_malformed_http_is_a_connection_error(flavour, kind):
    """An answer that is not HTTP, a chunk size that is not hexadecimal, or a header
    block that never ends (a status line, then header lines forever): an
    `APIConnectionError`, not a library's own exception (retried or not: each attempt
    met the same answer)."""
    with HostileServer(kind) as server, pytest.raises(APIConnectionError) as caught:
        hostile_health(flavour, server, max_retries=1)

    attempts = caught.value.attempts
    assert attempts in (1, 2)
    assert server.paths == [NEXT_PATH] + [HEALTH_PATH] * attempts


# -- junk on an idle connection ----------------------------------------------------------------


async def health_then_idle_then_next(call: Caller) -> tuple[Any, Any]:
    """A good `next`, a `report_health` whose good answer the server follows with junk,
    a pause for the junk to arrive, then the call that must not break. Returns the two
    last outcomes: a result, or the typed error the call ended in."""

    async def outcome(method: str, *args: Any) -> Any:
        try:
            return await call(method, *args)
        except APIError as exc:
            return exc

    assert await call("next_task", "helloworld", "v1") is None
    health = await outcome("report_health", HEALTH)
    await anyio.sleep(0.3)
    return health, await outcome("next_task", "helloworld", "v1")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("delay", [0.1, 0.0], ids=["idle", "right-behind"])
def test_junk_in_an_idle_connection_does_not_break_the_next_call(flavour, delay):
    """After a good answer, the server pushes megabytes of junk into the keep-alive
    connection until the client closes it, once the connection is idle (or right behind
    the answer): every call works or, at worst, ends in a typed error, and the next one
    works or is typed too, never a library's own exception."""
    with HostileServer("idle-junk", junk_delay=delay) as server:
        health, after = drive(
            flavour, health_then_idle_then_next, endpoint=server.url, max_response_size=CAP
        )

    assert isinstance(health, StandardResponse | APIError), health
    assert after is None or isinstance(after, APIError), after
    assert server.sent and server.sent[0] > 0  # the junk did go out


# -- a refused connection ----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_refused_connection_is_a_connection_error_never_a_timeout(flavour):
    """Nothing listening on the port: `APIConnectionError`, retried, and never an
    `APITimeoutError` (which would send the user looking at timeouts)."""

    async def steps(call: Caller) -> Any:
        return await call("next_task", "helloworld", "v1")

    with refusing_port() as port, pytest.raises(APIConnectionError) as caught:
        drive(flavour, steps, endpoint=f"http://{HOST}:{port}/api/v1", max_retries=1)

    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.attempts == 2


# -- memory ------------------------------------------------------------------------------------

MARGIN_KIB = 48 * 1024
"""How much more than the cap a scenario's peak RSS may grow.

A bounded client holds up to the cap of body, plus what one network chunk inflates to
before the cap is seen to be passed (up to the cap again), or a copy of the body while
its parts are joined; then the transport's read buffers (64 KiB to a few MiB), zlib's
32 KiB window, the objects of the error raised, and whatever modules the error path
imports the first time. Measured here: under 2 MiB of growth with a 1 MiB cap, about
32 MiB with the default 16 MiB one (two caps). 48 MiB covers that second cap and leaves
room for allocator noise elsewhere, while an unbounded client is far over it: the old
transport grew 1.7 GiB on the 512 MiB bomb, 64 MiB on an endless body and 257 MiB on
the junk.
"""

MEMORY_SCENARIOS = [
    ("gzip-bomb", "asyncio", CAP),
    ("gzip-bomb", "asyncio", None),  # None: the default cap
    ("deflate-bomb", "asyncio", CAP),
    ("endless-chunked", "asyncio", CAP),
    ("huge-length", "asyncio", CAP),
    ("endless-headers", "asyncio", CAP),
    ("idle-junk", "asyncio", CAP),
    ("gzip-bomb", "trio", CAP),
    ("idle-junk", "trio", CAP),
]


def run_child(*args: str) -> dict[str, Any]:
    """Runs this module's `memory_scenario` in a fresh Python; returns what it printed
    (or, if it failed, its error output under "error")."""
    try:
        completed = subprocess.run(
            [sys.executable, "-m", __name__, *args],
            cwd=ROOT,
            env=clean_network_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return {"error": f"timed out: {exc}"}
    if completed.returncode != 0 or not completed.stdout.strip():
        return {"error": completed.stderr[-3000:]}
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run_scenario(kind: str, backend: str, cap: int | None) -> dict[str, Any]:
    """One memory scenario: its hostile server here, the client in a fresh process."""
    budget = Budget(bytes=256 * MiB) if kind == "idle-junk" else Budget()
    with HostileServer(kind, budget=budget, junk_delay=0.1) as server:
        return run_child(server.url, kind, backend, "default" if cap is None else str(cap))


def scenario_id(kind: str, backend: str, cap: int | None) -> str:
    return f"{kind}-{backend}-{'default' if cap is None else cap}"


@pytest.fixture(scope="module")
def memory_results() -> dict[str, dict[str, Any]]:
    """Every memory scenario's report, by `scenario_id`; "calibrate" for the probe's.

    They run a few at a time: each client is a process of its own, so one does not
    change another's RSS, and the whole set takes a third of the time.
    """
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            scenario_id(*scenario): pool.submit(run_scenario, *scenario)
            for scenario in MEMORY_SCENARIOS
        }
        futures["calibrate"] = pool.submit(run_child, "-", "calibrate", "asyncio", str(CAP))
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(
    ("kind", "backend", "cap"),
    MEMORY_SCENARIOS,
    ids=[scenario_id(*scenario) for scenario in MEMORY_SCENARIOS],
)
def test_hostile_answers_keep_memory_bounded(kind, backend, cap, memory_results):
    """In a fresh process, the peak RSS grows by less than the cap plus `MARGIN_KIB`
    during the hostile call, and the call ends as it should."""
    result = memory_results[scenario_id(kind, backend, cap)]
    assert "error" not in result, result.get("error")

    limit = DEFAULT_MAX_RESPONSE_SIZE if cap is None else cap
    print(
        f"{kind} on {backend}, cap {limit // 1024} KiB: peak RSS +{result['growth_kib']} KiB "
        f"({result['probe']}; ru_maxrss +{result['maxrss_growth_kib']} KiB)"
    )
    if kind == "idle-junk":
        assert result["outcome"] in ("ok", "APIConnectionError"), result
    elif kind == "endless-headers":
        assert result["outcome"] == "APIConnectionError", result
    else:
        assert result["outcome"] == "APIResponseTooLargeError", result
        assert result["limit"] == limit
    assert result["growth_kib"] < limit // 1024 + MARGIN_KIB, result
    assert result["maxrss_growth_kib"] < limit // 1024 + MARGIN_KIB, result


def test_the_memory_probe_sees_a_blow_up(memory_results):
    """The measurement itself works here: 256 MiB allocated and touched during the
    measured span shows as that much growth, so the small growths above do not come
    from a blind probe (as `ru_maxrss` alone is when the parent's peak is higher)."""
    result = memory_results["calibrate"]
    assert "error" not in result, result.get("error")
    print(f"calibration: 256 MiB allocated, peak RSS +{result['growth_kib']} KiB")
    assert result["growth_kib"] >= 255 * 1024, result


# -- the child process -------------------------------------------------------------------------


class PeakProbe:
    """How much this process's peak RSS grows over a span of code, in KiB.

    `ru_maxrss` alone can be blind here: Linux carries a process's peak across
    `execve`, so a child started by a big pytest process begins with the parent's peak
    and grows nothing until it passes it. Where Linux lets a process reset its own peak
    (writing 5 to /proc/self/clear_refs), the probe resets it at the start and reads
    VmHWM (the peak RSS, since the reset) against VmRSS; elsewhere it falls back to
    `ru_maxrss` before and after. `ru_maxrss` growth is reported either way.
    """

    def __init__(self) -> None:
        self.maxrss_before = self.maxrss()
        self.precise = self.reset()
        self.before = self.status("VmRSS") if self.precise else self.maxrss_before

    @staticmethod
    def maxrss() -> int:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS

    @staticmethod
    def reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
                clear_refs.write("5")
        except OSError:
            return False
        return True

    @staticmethod
    def status(field: str) -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])  # in kB
        raise LookupError(field)

    def report(self) -> dict[str, Any]:
        after = self.status("VmHWM") if self.precise else self.maxrss()
        return {
            "growth_kib": after - self.before,
            "maxrss_growth_kib": self.maxrss() - self.maxrss_before,
            "probe": "VmHWM" if self.precise else "ru_maxrss",
        }


async def hostile_call(client: AsyncTempestClient, kind: str) -> Any:
    """The call that meets the hostile answer (for idle junk: the good call that brings
    the junk, a pause, and the next call)."""
    if kind == "idle-junk":
        with contextlib.suppress(APIError):  # may meet the junk too: not the point here
            await client.report_health(HEALTH)
        await anyio.sleep(0.5)
        return await client.next_task("helloworld", "v1")
    return await client.report_health(HEALTH)


def memory_scenario(url: str, kind: str, backend: str, cap: str) -> dict[str, Any]:
    """One scenario against the server at `url`: a warm-up call (the client, its pool
    and its HTTP library all built), then the hostile call between two readings of the
    peak RSS."""
    options: dict[str, Any] = {"token": TOKEN, "max_retries": 0, "timeout": GUARD}
    if cap != "default":
        options["max_response_size"] = int(cap)

    async def scenario() -> dict[str, Any]:
        report: dict[str, Any] = {}
        if kind == "calibrate":
            probe = PeakProbe()
            hog = bytearray(256 * MiB)
            hog[::4096] = b"x" * len(hog[::4096])  # touch every page
            report["outcome"] = "ok"
        else:
            async with AsyncTempestClient(endpoint=url, **options) as client:
                assert await client.next_task("helloworld", "v1") is None
                probe = PeakProbe()
                try:
                    await hostile_call(client, kind)
                    report["outcome"] = "ok"
                except APIError as exc:
                    report["outcome"] = type(exc).__name__
                    report["message"] = str(exc)[:300]
                    report["attempts"] = exc.attempts
                    report["limit"] = getattr(exc, "limit", None)
                except Exception as exc:  # reported, so the test shows what leaked out
                    report["outcome"] = f"{type(exc).__module__}.{type(exc).__name__}"
                    report["message"] = str(exc)[:300]
        return {**report, **probe.report()}

    result: dict[str, Any] = anyio.run(scenario, backend=backend)
    return result


def _main(argv: list[str]) -> None:
    url, kind, backend, cap = argv
    print(json.dumps(memory_scenario(url, kind, backend, cap)))


if __name__ == "__main__":
    _main(sys.argv[1:])
