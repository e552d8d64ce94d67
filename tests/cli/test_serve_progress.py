"""The live progress line of `serve --emulator`: on a terminal only, erased before the table."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from tempest_sdk._cli._term import Progress

APP = textwrap.dedent(
    """
    import time
    from pathlib import Path

    from pydantic import BaseModel

    import tempest_sdk as tempest

    HERE = Path(__file__).parent
    app = tempest.App("slow", version="v1")


    class Props(BaseModel):
        name: str = "x"


    job = app.resource("job", display_name="Job", description="A job.", properties=Props)


    @job.create
    def create(ctx: tempest.Context, input: Props) -> tempest.Resource:
        # Slow until the test says: deterministic, whatever the machine's speed.
        (HERE / "started").touch()
        while not (HERE / "release").exists():
            time.sleep(0.01)
        return tempest.Resource(external_id="j1", display_name="J", properties={"name": "x"})


    @job.delete
    def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
        return None
    """
)

# Progress lines: "1/2 done · 1 running · 0 failed · 1.3 s".
PROGRESS = re.compile(r"\d+/\d+ done · \d+ running · \d+ failed · \d+\.\d s")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    env.update(NO_COLOR="1", TERM="xterm", COLUMNS="120", **more)
    env.pop("LINES", None)
    return env


def _wait_for(path: Path, process: subprocess.Popen[bytes], what: str) -> None:
    """Wait until `path` exists; a process that ends first fails the test (no hang)."""
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"serve exited ({process.returncode}) before {what}")
        time.sleep(0.01)


def test_a_terminal_sees_a_live_line_that_is_erased_before_the_table(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    controller, terminal = os.openpty()
    seen = bytearray()
    changed = threading.Condition()

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other side closed
                chunk = b""
            with changed:
                seen.extend(chunk)
                changed.notify_all()
            if not chunk:
                return

    process = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", "serve", "app.py", "--emulator"],
        cwd=tmp_path,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _wait_for(tmp_path / "started", process, "the task started")
        # The handler waits for the test, so the line must come: the deadline only
        # keeps a broken build from hanging the suite.
        deadline = time.monotonic() + 120
        with changed:
            while b"1 running" not in seen and process.poll() is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no progress line: {bytes(seen)!r}")
                changed.wait(timeout=1)
        (tmp_path / "release").touch()
        _, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=30)
        os.close(controller)
    assert process.returncode == 0, errors.decode()
    output = seen.decode()
    lines = PROGRESS.findall(output)
    assert any("0/2 done · 1 running · 0 failed" in line for line in lines), output
    # Each update returns to the start of the line and rewrites it in place.
    assert re.search(r"\r0/2 done · 1 running · 0 failed · \d+\.\d s", output), output
    # Erased (returned, blanked, returned) right before the table, and never drawn again.
    before, table = output.split("TASK", 1)
    assert re.search(r"\r +\r$", before), repr(before[-200:])
    assert "running" not in table
    # After the table starts, the only carriage returns are the terminal's own "\r\n".
    assert "\r" not in table.replace("\r\n", ""), repr(table)
    assert "2/2 tasks reported ok" in table


def test_plain_output_has_no_progress_and_no_control_sequences(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    process = subprocess.Popen(
        [sys.executable, "-m", "tempest_sdk", "serve", "app.py", "--emulator"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(tmp_path / "started", process, "the task started")
        # Past the line's one-second delay, so that a line would have shown by now.
        time.sleep(1.5)
        (tmp_path / "release").touch()
        output, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors.decode()
    text = output.decode()
    assert "2/2 tasks reported ok" in text
    assert "running" not in text
    controls = {c for c in text if ord(c) < 0x20 and c != "\n"} | ({"\x7f"} & set(text))
    assert controls == set(), text


def test_progress_writes_nothing_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream, delay=0)
    assert not progress.enabled
    progress.show("1/2 done")
    progress.clear()
    with progress.logging_cleared():
        pass
    assert stream.getvalue() == ""


def test_progress_waits_for_its_delay() -> None:
    stream = _Terminal()
    progress = Progress(stream, delay=3600)
    assert progress.enabled
    progress.show("1/2 done")
    assert stream.getvalue() == ""


def test_progress_rewrites_in_place_and_erases() -> None:
    stream = _Terminal()
    progress = Progress(stream, delay=0)
    progress.show("10/20 done")
    progress.show("11/20")
    progress.clear()
    progress.clear()  # nothing shown: nothing to erase
    assert stream.getvalue() == "\r10/20 done" + "\r11/20     " + "\r" + " " * 5 + "\r"


def test_progress_is_off_on_a_dumb_terminal(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert not Progress(_Terminal(), delay=0).enabled


def test_log_records_erase_the_line_first() -> None:
    stream = _Terminal()
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        progress = Progress(stream, delay=0)
        with progress.logging_cleared():
            progress.show("1/2 done")
            logging.getLogger("tempest_sdk.test").warning("a warning")
            assert stream.getvalue() == "\r1/2 done\r        \r"
            progress.show("2/2 done")
        assert stream.getvalue().endswith("\r2/2 done\r        \r")
        logging.getLogger("tempest_sdk.test").warning("after")
        assert handler.filters == []
    finally:
        root.removeHandler(handler)
    assert logs.getvalue() == "a warning\nafter\n"
