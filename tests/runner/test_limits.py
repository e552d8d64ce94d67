"""Limits per resource type and per action: the token bucket and the limiter with a fake
clock, then the real runner against the real emulator on 127.0.0.1 (asyncio, trio,
uvloop). Deterministic: handlers wait for permits the test gives, and assertions are
on counts and order, never on durations."""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.emulator import Emulator
from tempest_sdk.models import TaskReport
from tempest_sdk.runner import Runner, RunnerHook, TaskCall, TaskInfo
from tempest_sdk.runner._limits import TaskLimiter, TokenBucket

from .fakes import FAST, wait_until

APP_ID = "limits"
SLOW = (APP_ID, "v1", "slow")
HELD_BACK = "was held back by its limits and the runner is stopping"


def on_trio(scenario: Callable[[], Awaitable[None]]) -> None:
    pytest.importorskip("trio", reason="trio is not installed")
    anyio.run(scenario, backend="trio")


def on_uvloop(scenario: Callable[[], Awaitable[None]]) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed")
    anyio.run(scenario, backend="asyncio", backend_options={"use_uvloop": True})


# -- the token bucket, on explicit times ----------------------------------------------


def test_the_bucket_spaces_starts_evenly_by_default() -> None:
    bucket = TokenBucket(tempest.Rate(2, per=1.0), now=10.0)
    assert bucket.delay(10.0) == 0.0
    bucket.take(10.0)
    assert bucket.delay(10.0) == 0.5
    assert bucket.delay(10.25) == 0.25
    assert bucket.delay(10.5) == 0.0
    bucket.take(10.5)
    assert bucket.delay(10.5) == 0.5


def test_the_bucket_allows_a_burst_after_a_quiet_spell_and_no_more() -> None:
    bucket = TokenBucket(tempest.Rate(1, per=10.0, burst=3), now=0.0)
    for _ in range(3):
        assert bucket.delay(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.delay(0.0) == 10.0
    # A long idle spell refills it to the burst, not beyond.
    for _ in range(3):
        assert bucket.delay(1000.0) == 0.0
        bucket.take(1000.0)
    assert bucket.delay(1000.0) == 10.0


# -- the limiter, with a fake clock ---------------------------------------------------


class Props(BaseModel):
    name: str = "x"


class FakeTime:
    """A virtual clock: `sleep` waits until `advance()` moves the clock to its deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        event = anyio.Event()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), event))
        await event.wait()

    async def run_out(self) -> None:
        """Whenever every other task is blocked, move to the next deadline and wake its
        sleepers; return once nobody sleeps."""
        while True:
            await anyio.wait_all_tasks_blocked()
            if not self._sleepers:
                return
            self.now = deadline = self._sleepers[0][0]
            while self._sleepers and self._sleepers[0][0] <= deadline:
                heapq.heappop(self._sleepers)[2].set()


def info(task_id: str, name: str = "create", kind: Any = "operation") -> TaskInfo:
    return TaskInfo(APP_ID, "v1", task_id, kind, "slow", name)


def declared(**limits: Any) -> tempest.App:
    """An app whose type `slow` has `limits`, with an action `rollback` (none of its own)."""
    app = tempest.App(APP_ID, "v1")
    slow = app.resource("slow", properties=Props, **limits)

    @slow.action("rollback")
    async def rollback(resource: tempest.Resource) -> None:
        return None

    return app


async def spaced_in_arrival_order() -> None:
    time = FakeTime()
    limiter = TaskLimiter(clock=time.clock, sleep=time.sleep)
    app = declared(rate_limit=tempest.Rate(2, per=1.0))
    starts: list[tuple[str, float]] = []

    async def start(task_id: str) -> None:
        admission = await limiter.admit(app, info(task_id))
        assert admission is not None
        starts.append((task_id, time.now))
        admission.release()

    async with anyio.create_task_group() as group:
        for i in range(4):
            group.start_soon(start, f"t{i}")
            await anyio.lowlevel.checkpoint()  # each arrives before the next
        await time.run_out()
    assert starts == [("t0", 0.0), ("t1", 0.5), ("t2", 1.0), ("t3", 1.5)]
    assert limiter.waiting() == {}


async def test_the_limiter_spaces_starts_at_the_rate_in_arrival_order() -> None:
    await spaced_in_arrival_order()


def test_the_limiter_spaces_starts_on_trio() -> None:
    on_trio(spaced_in_arrival_order)


async def test_max_concurrency_admits_the_next_task_when_one_is_released() -> None:
    limiter = TaskLimiter()
    app = declared(max_concurrency=2)
    first = await limiter.admit(app, info("t1"))
    second = await limiter.admit(app, info("t2"))
    assert first is not None and second is not None
    assert first.waited == second.waited == 0.0
    admitted: list[str] = []

    async def start(task_id: str) -> None:
        admission = await limiter.admit(app, info(task_id))
        assert admission is not None
        admitted.append(task_id)

    async with anyio.create_task_group() as group:
        group.start_soon(start, "t3")
        await wait_until(lambda: limiter.waiting() == {SLOW: 1}, "t3 waiting")
        assert admitted == []
        first.release()
        first.release()  # a second release gives nothing back twice
    assert admitted == ["t3"]
    assert limiter.waiting() == {}


async def test_stop_turns_waiting_tasks_away_and_lets_free_ones_through() -> None:
    limiter = TaskLimiter()
    app = declared(max_concurrency=1)
    running = await limiter.admit(app, info("t1"))
    assert running is not None
    outcomes: dict[str, object] = {}

    async def start(task_id: str) -> None:
        outcomes[task_id] = await limiter.admit(app, info(task_id))

    async with anyio.create_task_group() as group:
        group.start_soon(start, "t2")
        group.start_soon(start, "t3")
        await wait_until(lambda: limiter.waiting() == {SLOW: 2}, "two waiting tasks")
        limiter.stop()
    assert outcomes == {"t2": None, "t3": None}
    assert limiter.waiting() == {}
    assert await limiter.admit(app, info("t4")) is None  # it would have to wait
    running.release()
    late = await limiter.admit(app, info("t5"))  # it need not wait
    assert late is not None


async def sleep_forever(seconds: float) -> None:
    await anyio.sleep_forever()


async def test_a_cancelled_wait_gives_back_what_it_held() -> None:
    time = FakeTime()
    limiter = TaskLimiter(clock=time.clock, sleep=sleep_forever)
    app = declared(max_concurrency=1, rate_limit=tempest.Rate(1, per=3600))
    first = await limiter.admit(app, info("t1"))
    assert first is not None
    first.release()
    # t2 takes the type's slot and the bucket's lock, then waits for a start token.
    async with anyio.create_task_group() as group:
        group.start_soon(limiter.admit, app, info("t2"))
        await wait_until(lambda: limiter.waiting() == {SLOW: 1}, "t2 waiting")
        group.cancel_scope.cancel()
    assert limiter.waiting() == {}
    time.now = 3600.0
    again = await limiter.admit(app, info("t3"))
    assert again is not None and again.waited == 0.0  # the slot and the lock were given back


async def test_an_action_waiting_for_its_own_rate_holds_no_slot_of_its_type() -> None:
    time = FakeTime()
    limiter = TaskLimiter(clock=time.clock, sleep=sleep_forever)
    app = tempest.App(APP_ID, "v1")
    slow = app.resource("slow", properties=Props, max_concurrency=1)

    @slow.action("rollback", rate_limit=tempest.Rate(1, per=60))
    async def rollback(resource: tempest.Resource) -> None:
        return None

    first = await limiter.admit(app, info("a1", "rollback", "action"))
    assert first is not None
    first.release()
    async with anyio.create_task_group() as group:
        group.start_soon(limiter.admit, app, info("a2", "rollback", "action"))
        await wait_until(lambda: limiter.waiting() == {SLOW: 1}, "a2 waiting for its token")
        create = await limiter.admit(app, info("c1"))  # the type's one slot is free
        assert create is not None and create.waited == 0.0
        group.cancel_scope.cancel()


async def test_a_start_honours_the_rate_of_its_action_and_of_its_type() -> None:
    time = FakeTime()
    limiter = TaskLimiter(clock=time.clock, sleep=time.sleep)
    app = tempest.App(APP_ID, "v1")
    slow = app.resource("slow", properties=Props, rate_limit=tempest.Rate(4, per=1.0))

    @slow.action("rollback", rate_limit=tempest.Rate(1, per=1.0))
    async def rollback(resource: tempest.Resource) -> None:
        return None

    starts: list[tuple[str, float]] = []

    async def start(task: TaskInfo) -> None:
        admission = await limiter.admit(app, task)
        assert admission is not None
        starts.append((task.task_id, time.now))

    async with anyio.create_task_group() as group:
        for task in (
            info("a1", "rollback", "action"),
            info("a2", "rollback", "action"),
            info("c1"),
            info("c2"),
        ):
            group.start_soon(start, task)
            await anyio.lowlevel.checkpoint()
        await time.run_out()
    # c1 and c2 follow the type's rate (one every 0.25 s), a2 its action's (1 s).
    assert starts == [("a1", 0.0), ("c1", 0.25), ("c2", 0.5), ("a2", 1.0)]


# -- the real runner against the real emulator ----------------------------------------


class Probe:
    """What the handlers did: starts, ends, how many ran at once. Gated handlers wait
    for a permit the test gives with `let(n)`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (start|end, resource type, task id)
        self.running: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.permits = anyio.Semaphore(0)

    def let(self, n: int = 1) -> None:
        for _ in range(n):
            self.permits.release()

    def started(self, kind: str) -> list[str]:
        return [task_id for event, k, task_id in self.events if event == "start" and k == kind]

    @asynccontextmanager
    async def run(self, kind: str, task_id: str, *, gated: bool) -> AsyncIterator[None]:
        self.events.append(("start", kind, task_id))
        self.running[kind] += 1
        self.peak[kind] = max(self.peak[kind], self.running[kind])
        try:
            if gated:
                await self.permits.acquire()
            else:
                await anyio.lowlevel.checkpoint()  # room for an overlap, were one allowed
            yield
        finally:
            self.running[kind] -= 1
            self.events.append(("end", kind, task_id))


def limited_app(
    probe: Probe, *, slow: dict[str, Any] | None = None, rollback: dict[str, Any] | None = None
) -> tempest.App:
    """`slow`: a gated create (30 s timeout), a quick update (0.3 s timeout), a gated
    action `rollback`; `fast`: a quick create. `slow=` and `rollback=` are their limits."""
    app = tempest.App(APP_ID, "v1")
    slow_type = app.resource("slow", properties=Props, **(slow or {}))
    fast_type = app.resource("fast", properties=Props)

    def made(ctx: tempest.Context) -> tempest.Resource:
        return tempest.Resource(
            external_id=ctx.task_id, display_name=ctx.task_id, properties={"name": "x"}
        )

    @slow_type.create(timeout=30)
    async def create_slow(ctx: tempest.Context) -> tempest.Resource:
        async with probe.run("slow", ctx.task_id, gated=True):
            return made(ctx)

    @slow_type.update(timeout=0.3)
    async def update_slow(ctx: tempest.Context) -> tempest.Resource:
        async with probe.run("slow", ctx.task_id, gated=False):
            return made(ctx)

    @slow_type.action("rollback", **(rollback or {}))
    async def rollback_slow(ctx: tempest.Context) -> None:
        async with probe.run("rollback", ctx.task_id, gated=True):
            pass

    @fast_type.create
    async def create_fast(ctx: tempest.Context) -> tempest.Resource:
        async with probe.run("fast", ctx.task_id, gated=False):
            return made(ctx)

    return app


class Waits(RunnerHook):
    """Records what each task's `TaskInfo` says it waited."""

    def __init__(self) -> None:
        self.waited: dict[str, float] = {}

    async def around_task(self, task: TaskInfo, call_next: TaskCall) -> TaskReport:
        self.waited[task.task_id] = task.waited
        return await call_next()


@asynccontextmanager
async def serving(emulator: Emulator, app: tempest.App, **options: Any) -> AsyncIterator[Runner]:
    """The emulator on 127.0.0.1 and a ready runner against it, for the block."""
    async with (
        emulator.serve(),
        emulator.client() as client,
        Runner(app, client, **{**FAST, **options}) as runner,
    ):
        assert emulator.url.startswith("http://127.0.0.1:")
        yield runner


def limiter_of(runner: Runner) -> TaskLimiter:
    assert runner._keeper is not None
    return runner._keeper.limiter


def create(emulator: Emulator, kind: str = "slow") -> str:
    return emulator.enqueue_operation(APP_ID, "v1", kind, "create")


def statuses(emulator: Emulator, ids: list[str]) -> list[str]:
    return [report["status"] for task_id in ids for report in emulator.reports(task_id)]


async def one_at_a_time() -> None:
    probe, waits, emulator = Probe(), Waits(), Emulator(seed=1)
    ids = [create(emulator) for _ in range(4)]
    app = limited_app(probe, slow={"max_concurrency": 1})
    async with serving(emulator, app, concurrency=8, hooks=[waits]) as runner:
        limiter = limiter_of(runner)
        for n in range(1, 5):

            def one_running_the_rest_waiting(n: int = n) -> bool:
                waiting = {SLOW: 4 - n} if n < 4 else {}
                return len(probe.started("slow")) == n and limiter.waiting() == waiting

            await wait_until(one_running_the_rest_waiting, f"task {n} running, {4 - n} waiting")
            assert probe.running["slow"] == 1
            probe.let()
        await emulator.wait_for_reports_async(4)
    assert probe.peak["slow"] == 1
    assert statuses(emulator, ids) == ["ok"] * 4
    assert sorted(waits.waited[task_id] > 0 for task_id in ids) == [False, True, True, True]


@pytest.mark.integration
async def test_a_type_with_max_concurrency_1_runs_its_queued_tasks_one_at_a_time() -> None:
    await one_at_a_time()


@pytest.mark.integration
def test_one_at_a_time_on_trio() -> None:
    on_trio(one_at_a_time)


@pytest.mark.integration
def test_one_at_a_time_on_uvloop() -> None:
    on_uvloop(one_at_a_time)


async def paced_until_the_stop(burst: int) -> None:
    """Rate(1 an hour, burst): `burst` tasks start, the rest wait until the stop and
    are then left unstarted and unreported, for Tempest to hand out again."""
    probe, emulator = Probe(), Emulator(seed=2)
    ids = [
        emulator.enqueue_operation(APP_ID, "v1", "slow", "update", external_id="d1")
        for _ in range(3)
    ]
    app = limited_app(probe, slow={"rate_limit": tempest.Rate(1, per=3600, burst=burst)})
    async with serving(emulator, app, concurrency=8) as runner:
        limiter = limiter_of(runner)
        await wait_until(
            lambda: len(emulator.reported()) == burst and limiter.waiting() == {SLOW: 3 - burst},
            f"{burst} reported, {3 - burst} waiting",
        )
    assert len(probe.started("slow")) == burst
    unstarted = sorted(set(ids) - set(emulator.reported()))
    assert len(unstarted) == 3 - burst
    assert sorted(emulator.leased()) == unstarted  # leased, unreported: handed out again
    assert limiter.waiting() == {}


@pytest.mark.integration
@pytest.mark.parametrize("burst", [1, 2])
async def test_a_rate_limit_holds_tasks_back_and_a_stop_leaves_them_unstarted(
    burst: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tempest_sdk.runner")
    await paced_until_the_stop(burst)
    held = [r for r in caplog.records if HELD_BACK in r.getMessage()]
    assert len(held) == 3 - burst
    assert {(getattr(r, "resource_type", None), getattr(r, "operation", None)) for r in held} == {
        ("slow", "update")
    }


@pytest.mark.integration
def test_a_rate_limit_and_a_stop_on_trio() -> None:
    on_trio(lambda: paced_until_the_stop(1))


@pytest.mark.integration
async def test_other_types_are_not_held_back_by_a_saturated_one() -> None:
    probe, emulator = Probe(), Emulator(seed=3)
    slow_ids = [create(emulator) for _ in range(3)]
    fast_ids = [create(emulator, "fast") for _ in range(3)]
    app = limited_app(probe, slow={"max_concurrency": 1})
    async with serving(emulator, app, concurrency=8) as runner:
        limiter = limiter_of(runner)
        await wait_until(
            lambda: set(fast_ids) <= set(emulator.reported()) and limiter.waiting() == {SLOW: 2},
            "every fast task reported while slow ones wait",
        )
        assert probe.running["slow"] == 1
        assert not set(slow_ids) & set(emulator.reported())
        probe.let(3)
        await emulator.wait_for_reports_async(6)
    assert probe.peak["slow"] == 1
    assert statuses(emulator, slow_ids + fast_ids) == ["ok"] * 6


@pytest.mark.integration
async def test_waiting_tasks_count_against_the_global_concurrency() -> None:
    probe, emulator = Probe(), Emulator(seed=4)
    first, second = create(emulator), create(emulator)
    fast = create(emulator, "fast")
    app = limited_app(probe, slow={"max_concurrency": 1})
    async with serving(emulator, app, concurrency=2) as runner:
        limiter = limiter_of(runner)
        await wait_until(
            lambda: len(probe.started("slow")) == 1 and limiter.waiting() == {SLOW: 1},
            "one slow task running, one waiting",
        )
        # Both slots are held (one by the waiting task): nothing more is fetched.
        assert runner._keeper is not None and runner._keeper.free_slots == 0
        assert emulator.queued(APP_ID, "v1") == [fast]
        probe.let(2)
        await emulator.wait_for_reports_async(3)
    assert statuses(emulator, [first, second, fast]) == ["ok"] * 3
    # The fast task started only once the first slow task had ended and freed its slot.
    ran_first = probe.started("slow")[0]
    end_of_first = probe.events.index(("end", "slow", ran_first))
    assert end_of_first < probe.events.index(("start", "fast", fast))


@pytest.mark.integration
async def test_a_tasks_timeout_counts_from_its_start_not_from_its_wait() -> None:
    probe, waits, emulator = Probe(), Waits(), Emulator(seed=5)
    blocker = create(emulator)
    quick = emulator.enqueue_operation(
        APP_ID, "v1", "slow", "update", external_id="d1"
    )  # its timeout: 0.3 s
    app = limited_app(probe, slow={"max_concurrency": 1})
    async with serving(emulator, app, concurrency=4, hooks=[waits]) as runner:
        limiter = limiter_of(runner)
        await wait_until(
            lambda: probe.started("slow") == [blocker] and limiter.waiting() == {SLOW: 1},
            "the update waiting behind the create",
        )
        await anyio.sleep(0.5)  # the update waits longer than its own timeout
        probe.let()
        await emulator.wait_for_reports_async(2)
    assert statuses(emulator, [blocker, quick]) == ["ok", "ok"]
    assert waits.waited[quick] > 0.3 and waits.waited[blocker] == 0.0


@pytest.mark.integration
async def test_an_actions_limit_serializes_it_and_not_the_rest_of_its_type() -> None:
    probe, waits, emulator = Probe(), Waits(), Emulator(seed=6)
    rollbacks = [
        emulator.enqueue_action(APP_ID, "v1", "slow", "rollback", external_id=f"d{i}")
        for i in range(3)
    ]
    update = emulator.enqueue_operation(APP_ID, "v1", "slow", "update", external_id="d1")
    app = limited_app(probe, rollback={"max_concurrency": 1})
    async with serving(emulator, app, concurrency=8, hooks=[waits]) as runner:
        limiter = limiter_of(runner)
        await wait_until(
            lambda: update in emulator.reported() and limiter.waiting() == {SLOW: 2},
            "the update reported while two rollbacks wait",
        )
        assert probe.running["rollback"] == 1
        probe.let(3)
        await emulator.wait_for_reports_async(4)
    assert probe.peak["rollback"] == 1
    assert statuses(emulator, [*rollbacks, update]) == ["ok"] * 4
    assert sorted(waits.waited[t] > 0 for t in rollbacks) == [False, True, True]
