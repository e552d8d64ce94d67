"""Shared by the feature-flags tests: the example's modules, Flagpole on loopback, a fake.

The example's directory name has a dash, so it is no package: its modules are imported
from the directory itself. This helper has a name of its own (not conftest.py), so that
importing it never picks up another directory's conftest.
"""

# pyright: strict

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1]
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

from flags_api import Flag, FlagsError, Listing, Segment  # noqa: E402

APP_ID, VERSION = "feature-flags", "v1"
TOKEN = "flagpole-token-5b1e"  # Flagpole's; never expected in any output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_flagpole(token: str = TOKEN) -> Generator[str, None, None]:
    """Flagpole under uvicorn in a thread on 127.0.0.1, with empty stores; yields its URL."""
    import uvicorn
    from flagpole import create_flagpole

    port = free_port()
    config = uvicorn.Config(
        create_flagpole(token), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="flagpole", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("Flagpole did not start on 127.0.0.1")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def flag_env(monkeypatch: pytest.MonkeyPatch, url: str, **more: str) -> None:
    """The app's settings, as its operators set them: FLAGS_URL, FLAGS_TOKEN, ..."""
    monkeypatch.setenv("FLAGS_URL", url)
    monkeypatch.setenv("FLAGS_TOKEN", TOKEN)
    for name, value in more.items():
        monkeypatch.setenv(f"FLAGS_{name.upper()}", value)


class InMemoryFlags:
    """A `FlagsApi` in memory: no class in common with it, only the same methods."""

    def __init__(self) -> None:
        self.flags: dict[str, Flag] = {}
        self.segments: dict[str, Segment] = {}
        self.calls: list[str] = []

    def _flag(self, key: str) -> Flag:
        if key not in self.flags:
            raise FlagsError(404, f"no flag {key!r}")
        return self.flags[key]

    def _segment(self, key: str) -> Segment:
        if key not in self.segments:
            raise FlagsError(404, f"no segment {key!r}")
        return self.segments[key]

    async def ping(self) -> None:
        self.calls.append("ping")

    async def create_flag(self, flag: Flag) -> Flag:
        self.calls.append(f"create_flag {flag.key}")
        if flag.key in self.flags:
            raise FlagsError(409, f"flag {flag.key!r} exists")
        self.flags[flag.key] = flag
        return flag

    async def get_flag(self, key: str) -> Flag:
        return self._flag(key)

    async def update_flag(self, key: str, changes: dict[str, str]) -> Flag:
        self.flags[key] = self._flag(key).model_copy(update=changes)
        return self.flags[key]

    async def delete_flag(self, key: str) -> None:
        self._flag(key)
        del self.flags[key]

    async def list_flags(self, cursor: str, limit: int) -> Listing[Flag]:
        keys = sorted(k for k in self.flags if k > cursor)
        more = len(keys) > limit
        page = keys[:limit]
        return Listing[Flag](
            items=[self.flags[k] for k in page], next_cursor=page[-1] if more else None
        )

    async def rollout(self, key: str, percentage: int) -> Flag:
        self.calls.append(f"rollout {key} {percentage}")
        self.flags[key] = self._flag(key).model_copy(update={"rollout": percentage})
        return self.flags[key]

    async def kill(self, key: str, reason: str) -> Flag:
        update = {"killed": True, "rollout": 0, "kill_reason": reason}
        self.flags[key] = self._flag(key).model_copy(update=update)
        return self.flags[key]

    async def create_segment(self, segment: Segment) -> Segment:
        self.segments[segment.key] = segment
        return segment

    async def get_segment(self, key: str) -> Segment:
        return self._segment(key)

    async def update_segment(self, key: str, changes: dict[str, str]) -> Segment:
        self.segments[key] = self._segment(key).model_copy(update=changes)
        return self.segments[key]

    async def delete_segment(self, key: str) -> None:
        self._segment(key)
        del self.segments[key]

    async def list_segments(self, cursor: str, limit: int) -> Listing[Segment]:
        keys = sorted(k for k in self.segments if k > cursor)[:limit]
        return Listing[Segment](items=[self.segments[k] for k in keys])
