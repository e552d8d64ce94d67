"""`Emulator`: a local control plane for developing and testing private apps.

The class is composed by concern, each part in its own module over the one `Core`:
`Serving` (server lifecycle and clients), `ControlPlane` (tasks, faults, seeded
objects), `Inspection` (what happened) and `Waits` (waiting for it).
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from typing import Final

from ._admin import ADMIN_PREFIX, handle_admin
from ._control import ControlPlane
from ._core import Core
from ._serving import Serving, check_page_size, check_positive
from ._tasks import DEFAULT_PROJECT
from ._waits import Waits

__all__ = ["DEFAULT_TOKEN", "Emulator", "random_token"]

DEFAULT_TOKEN: Final = "emulator-token"
"""A fixed token for tests that must know it in advance: `Emulator(token=DEFAULT_TOKEN)`.

An `Emulator` given no token makes a random one (read it from `Emulator.token`): any
page a browser opens can send requests to a port on 127.0.0.1, and a known token
would let it use the emulator.
"""


def random_token() -> str:
    """A fresh emulator token: unguessable, and recognisable as the emulator's."""
    return f"emu-{secrets.token_urlsafe(18)}"


class Emulator(Serving, ControlPlane, Waits):
    """A local emulator of the Tempest control plane that speaks the contract exactly.

    It checks every request body against the contract (a bad one gets a 400 saying
    what is wrong and where, and is recorded in `violations`), keeps a FIFO task
    queue per app id and version, leases each handed-out task and hands it out again
    when no report arrives within `lease_timeout` (at least once, like Tempest),
    records reports, connects and health reports, and injects faults on demand.

    Reach it over a real loopback socket (`serve_in_thread()`, `serve()`) or in
    process without sockets (`transport()`); `client()` gives a client set up for
    whichever is in use. While it serves, other processes can enqueue tasks through
    its admin endpoint (`tempest-sdk enqueue`). Every method is thread-safe.

    Args:
        token: the bearer token clients must send; default: a random one, made for
            this emulator (`token` says which).
        base_path: the path the ten endpoints live under.
        lease_timeout: seconds a handed-out task waits for its report before it is
            handed out again.
        seed: makes task ids and probabilistic faults reproducible.
        clock: the monotonic clock leases are measured with (seconds); tests pass a
            fake one to expire leases without waiting.
        page_size: items per page of `resources.list`, `projects.list`, `recipes.list`.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_path: str = "/api/v1",
        lease_timeout: float = 30.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = 50,
    ) -> None:
        if token is None:
            token = random_token()
        if not token or token.strip() != token:
            raise ValueError("token must be a non-empty string without surrounding whitespace")
        base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        if (base_path + "/").startswith(ADMIN_PREFIX):
            raise ValueError(f"base_path must not start with {ADMIN_PREFIX!r}: the admin endpoint")
        check_positive("lease_timeout", lease_timeout)
        check_page_size(page_size)
        self._core = Core(
            token=token,
            base_path=base_path,
            lease_timeout=float(lease_timeout),
            rng=random.Random(seed),
            clock=clock,
            page_size=page_size,
            admin=(ADMIN_PREFIX, handle_admin),
        )
        self.add_project(DEFAULT_PROJECT)

    def __repr__(self) -> str:
        with self._core.lock:
            tasks = len(self._core.store.tasks)
        return f"<Emulator {self.url} tasks={tasks}>"
