"""Injected faults: error statuses, latency, dropped connections, malformed tasks."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Collection, Iterator
from typing import Any, Final, Literal, TypedDict, Unpack, get_args

from ._tasks import check_options

__all__ = ["DropWhen", "Fault", "FaultOptions", "FaultSet", "MalformedKind", "malformed_body"]

MalformedKind = Literal["bad_json", "unknown_request_type", "missing_fields"]
"""How a malformed `next` answer is broken."""

DropWhen = Literal["before", "after"]
"""Whether a dropped connection loses the request (`before` it is handled) or the answer."""

ANY_ENDPOINT: Final = "*"

# What an `unknown_request_type` task claims to be: a kind a newer control plane might send.
UNKNOWN_REQUEST_TYPE: Final = "execute_resource_import"


class FaultOptions(TypedDict, total=False):
    """What an injected fault does (see `Emulator.inject`); all optional.

    Attributes:
        status: answer this HTTP error status (400-599).
        retry_after: with `status`, a `Retry-After` of this many seconds.
        latency: wait this many seconds first (alone: only delay the answer).
        drop: drop the connection: `True` or `"before"` loses the request, `"after"`
            handles it and loses the answer.
        malformed: break the task `apps.operations.next` hands out.
        probability: the chance it fires on each matching request, in (0, 1].
        times: fire at most this many times (None: until cleared).
        message: the error text of a `status` answer.
    """

    status: int | None
    retry_after: float | None
    latency: float
    drop: bool | DropWhen
    malformed: MalformedKind | None
    probability: float
    times: int | None
    message: str | None


class Fault:
    """A fault injected into one endpoint (or `"*"`, every endpoint) of an emulator.

    It fires on matching requests, at most `times` times if set, each time with
    `probability`. `count` says how often it fired. Only the first fault that fires
    applies to a request.
    """

    __slots__ = (
        "_count",
        "drop",
        "endpoint",
        "latency",
        "malformed",
        "message",
        "probability",
        "retry_after",
        "status",
        "times",
    )

    def __init__(
        self, endpoint: str, *, endpoints: Collection[str], **options: Unpack[FaultOptions]
    ) -> None:
        check_options(options, FaultOptions)
        status, retry_after = options.get("status"), options.get("retry_after")
        latency, drop = options.get("latency", 0.0), options.get("drop", False)
        malformed, message = options.get("malformed"), options.get("message")
        probability, times = options.get("probability", 1.0), options.get("times")
        if endpoint != ANY_ENDPOINT and endpoint not in endpoints:
            known = ", ".join(sorted(endpoints))
            raise ValueError(f"unknown endpoint {endpoint!r}: use one of {known}, or '*'")
        when: DropWhen | None = "before" if drop is True else (drop or None)
        if when not in (None, "before", "after"):
            raise ValueError(f"drop must be True, 'before' or 'after', not {drop!r}")
        kinds = [k for k, v in (("status", status), ("drop", when), ("malformed", malformed)) if v]
        if len(kinds) > 1:
            raise ValueError(f"a fault is one of status=, drop= or malformed=, not {kinds}")
        if retry_after is not None and (status is None or retry_after < 0):
            raise ValueError("retry_after goes with status= (e.g. 429 or 503) and is >= 0")
        if not kinds and not latency:
            raise ValueError("say what the fault does: status=, drop=, malformed= or latency=")
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), not {status!r}")
        if malformed is not None:
            if malformed not in get_args(MalformedKind):
                raise ValueError(
                    f"malformed must be one of {get_args(MalformedKind)}, not {malformed!r}"
                )
            if endpoint != "apps.operations.next":
                raise ValueError("malformed= only applies to 'apps.operations.next'")
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, not {latency!r}")
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], not {probability!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 (or None for no limit), not {times!r}")
        self.endpoint = endpoint
        self.status = status
        self.retry_after = retry_after
        self.latency = float(latency)
        self.drop: DropWhen | None = when
        self.malformed: MalformedKind | None = malformed
        self.probability = probability
        self.times = times
        self.message = message
        self._count = 0

    @property
    def count(self) -> int:
        """How many times this fault fired."""
        return self._count

    @property
    def active(self) -> bool:
        """Whether it may still fire (`times` not used up)."""
        return self.times is None or self._count < self.times

    def __repr__(self) -> str:
        what = {
            "status": self.status,
            "retry_after": self.retry_after,
            "latency": self.latency or None,
            "drop": self.drop,
            "malformed": self.malformed,
            "probability": None if self.probability == 1.0 else self.probability,
            "times": self.times,
        }
        shown = ", ".join(f"{k}={v!r}" for k, v in what.items() if v is not None)
        return f"Fault({self.endpoint!r}, {shown}, count={self._count})"


class FaultSet:
    """The faults of one emulator, in injection order. Callers hold the emulator's lock."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Append a fault."""
        self._faults.append(fault)

    def clear(self, endpoint: str | None = None) -> None:
        """Remove every fault, or those injected for `endpoint`."""
        self._faults = [f for f in self._faults if endpoint is not None and f.endpoint != endpoint]

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def pick(self, endpoint: str, rng: random.Random, *, malformed: bool) -> Fault | None:
        """Return the first fault that fires for a request to `endpoint`, counting it.

        Malformed-answer faults are picked apart (`malformed=True`), only when a task
        is about to be handed out, so they never fire on an empty queue.
        """
        for fault in self._faults:
            if fault.endpoint != endpoint and fault.endpoint != ANY_ENDPOINT:
                continue
            if (fault.malformed is not None) is not malformed or not fault.active:
                continue
            if fault.probability < 1.0 and rng.random() >= fault.probability:
                continue
            fault._count += 1
            return fault
        return None


def malformed_body(kind: MalformedKind, answer: dict[str, Any], body: bytes) -> bytes:
    """Break a `next` answer (`answer`, serialized as `body`) the way `kind` says.

    `unknown_request_type` and `missing_fields` keep the task id, so a client can
    still report the task as failed; `bad_json` loses it.
    """
    if kind == "bad_json":
        return body[: max(1, len(body) // 2)]
    broken = copy.deepcopy(answer)
    if kind == "unknown_request_type":
        broken["task"]["request_type"] = UNKNOWN_REQUEST_TYPE
    else:
        broken.pop("metadata", None)
        broken["task"].pop("resource", None)
    return json.dumps(broken, separators=(",", ":")).encode()
