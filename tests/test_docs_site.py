"""The documentation site: every page is in the nav, code fits the content width, and
the samples of the home page, Getting started and the README are real files that work.

Nothing is built here (`mkdocs build --strict` is the docs session's job): the checks
read docs/ and mkdocs.yml as mkdocs and pymdownx.snippets would.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tempest_sdk.testing import invoke

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The content area of mkdocs-material at 1280 px shows about 80 columns of code.
WIDTH = 78
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# pymdownx.snippets: "path", "path:start:end" (lines) or "path:section".
SNIPPET = re.compile(r'^\s*--8<-- "(?P<path>[^":]+)(?::(?P<spec>[^"]+))?"\s*$')
SECTION = re.compile(r"--8<-- \[(start|end):(\w+)\]")


class _MkdocsLoader(yaml.SafeLoader):
    """Reads mkdocs.yml, whose `!!python/name:` tags name Python objects."""


_MkdocsLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix
)


def nav_pages() -> list[str]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text("utf-8"), Loader=_MkdocsLoader)

    def walk(entry: Any) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, dict):
            return [page for value in entry.values() for page in walk(value)]
        return [page for item in entry for page in walk(item)]

    return walk(config["nav"])


def snippet(line: str) -> list[str] | None:
    """The lines a `--8<--` line stands for, or None if it is not one."""
    match = SNIPPET.match(line)
    if match is None:
        return None
    lines = (ROOT / match["path"]).read_text("utf-8").splitlines()
    spec = match["spec"]
    if spec is None:
        return [line for line in lines if not SECTION.search(line)]
    if re.fullmatch(r"\d+:\d+", spec):
        start, end = (int(n) for n in spec.split(":"))
        part = lines[start - 1 : end]
    else:
        begin = next(i for i, text in enumerate(lines) if f"[start:{spec}]" in text)
        end = next(i for i, text in enumerate(lines) if f"[end:{spec}]" in text)
        part = lines[begin + 1 : end]
    # mkdocs.yml sets `dedent_subsections`: a part is shown dedented.
    return textwrap.dedent("\n".join(part)).split("\n")


def code_blocks(page: Path) -> list[tuple[int, str, list[str]]]:
    """Each fenced block of a page: its line, its info string, its lines as shown."""
    blocks: list[tuple[int, str, list[str]]] = []
    lines = page.read_text("utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        indent, fence = opening["indent"], opening["fence"]
        start, shown = index, []
        while index < len(lines):
            line = lines[index]
            index += 1
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                break
            line = line[len(indent) :] if line.startswith(indent) else line.lstrip()
            shown.extend(snippet(line) or [line])
        blocks.append((start, opening["info"].strip(), shown))
    return blocks


PAGES = sorted(DOCS.rglob("*.md"))


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    in_nav = nav_pages()
    on_disk = [page.relative_to(DOCS).as_posix() for page in PAGES]
    assert sorted(set(on_disk) - set(in_nav)) == [], "pages missing from mkdocs.yml's nav"
    assert sorted(set(in_nav) - set(on_disk)) == [], "nav entries without a page"
    assert len(in_nav) == len(set(in_nav)), "a page is twice in the nav"


def test_the_nav_is_organised_by_task() -> None:
    order = [
        "index.md",
        "getting-started.md",
        "writing-apps.md",
        "lifespan.md",
        "settings-and-secrets.md",
        "testing.md",
        "runner.md",
        "deployment.md",
        "observability.md",
        "cli.md",
        "emulator.md",
        "migrating-from-go.md",
        "troubleshooting.md",
        "changelog.md",
        "reference/index.md",
    ]
    pages = nav_pages()
    assert [page for page in pages if page in order] == order
    assert pages[-2:] == ["models.md", "client.md"], "the reference ends the nav"


# Pages whose code blocks still scroll sideways (issue 17). Strict: once a page is
# fixed, its entry fails the run until it is taken out of this set.
TOO_WIDE_YET: set[str] = set()


def _page_param(page: Path) -> Any:
    name = page.relative_to(DOCS).as_posix()
    marks = (
        [pytest.mark.xfail(strict=True, reason="code still wider than 78 columns")]
        if name in TOO_WIDE_YET
        else []
    )
    return pytest.param(page, id=name, marks=marks)


@pytest.mark.parametrize("page", [_page_param(page) for page in PAGES])
def test_code_fits_the_content_width(page: Path) -> None:
    too_wide = [
        f"{page.relative_to(ROOT)}, block at line {start}: {len(line)} columns: {line!r}"
        for start, info, lines in code_blocks(page)
        if info != "mermaid"  # a diagram, drawn to fit
        for line in lines
        if len(line) > WIDTH
    ]
    assert too_wide == [], (
        f"code wider than {WIDTH} columns scrolls sideways at 1280 px; wrap it (the "
        "samples in docs_src/ are formatted by ruff at 78 columns: `ruff format docs_src`)"
    )


def test_the_width_check_sees_includes_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "- item\n\n  ```python\n  x = 1\n  ```\n\n"
        '```python\n--8<-- "docs_src/writing_apps/lifespan.py:15:16"\n```\n',
        "utf-8",
    )
    blocks = code_blocks(page)
    assert [lines for _, _, lines in blocks] == [
        ["x = 1"],
        [
            "class TempsSettings(BaseSettings):",
            '    """Read from TEMPS_URL, TEMPS_TOKEN, or files in /run/secrets."""',
        ],
    ]


def test_the_settings_page_shows_the_whole_settings_class() -> None:
    (block,) = [
        lines
        for _, info, lines in code_blocks(DOCS / "settings-and-secrets.md")
        if info.startswith("python") and any("TempsSettings" in line for line in lines)
    ]
    assert block[0] == "class TempsSettings(BaseSettings):"
    assert block[-1] == "    token: SecretStr", "the line range missed the class's end"


def test_the_home_page_sample_works() -> None:
    assert '--8<-- "docs_src/home/app.py"' in (DOCS / "index.md").read_text("utf-8")
    app = importlib.import_module("docs_src.home.app").app
    report = invoke(app, "example", "create", input={"color": "blue"})
    assert report.status == "ok", report.message
    assert report.to_wire()["response"]["resource"]["properties"] == {"color": "blue"}


def test_the_readme_shows_the_home_page_sample_verbatim() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    (code,) = re.findall(r"```python\n(.*?)```\n", readme, re.S)
    assert code == (ROOT / "docs_src" / "home" / "app.py").read_text("utf-8")


def test_getting_started_serves_its_app_on_the_emulator_as_shown() -> None:
    page = (DOCS / "getting-started.md").read_text("utf-8")
    assert '--8<-- "docs_src/getting_started/app.py"' in page
    shown = re.findall(r"^(greeting\.\w+)\s+ok\b", page, re.M)
    assert shown == ["greeting.create", "greeting.list", "greeting.read", "greeting.delete"]
    # The real CLI, runner and emulator (on 127.0.0.1), as the page tells the reader.
    serve = ["serve", "docs_src/getting_started/app.py", "--emulator"]
    result = subprocess.run(
        [sys.executable, "-m", "tempest_sdk", *serve],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.findall(r"^(greeting\.\w+)\s+ok\b", result.stdout, re.M) == shown
    assert "4/4 tasks reported ok" in result.stdout
    assert "4/4 tasks reported ok" in page


def test_getting_started_invokes_as_shown() -> None:
    app = importlib.import_module("docs_src.getting_started.app").app
    report = invoke(app, "greeting", "create", input={"name": "Ada"})
    assert report.status == "ok", report.message
    resource = report.to_wire()["response"]["resource"]
    assert resource["display_name"] == "Hello, Ada!"
    missing = invoke(app, "greeting", "read", external_id="nobody")
    assert missing.message == "read of 'greeting' failed: resource not found: no greeting 'nobody'"


# A ```python block that is neither an include of docs_src nor a verified copy.
# Keep this tiny: only shapes that cannot run (placeholders), each with its reason.
NOT_RUNNABLE: dict[tuple[str, int], str] = {}
MARKER = re.compile(r"^\s*<!-- (docs_src/[\w/]+\.py) -->\s*$")


def unverified_python_blocks(page: Path) -> list[tuple[str, int]]:
    """The page's ```python blocks whose code is not a file of docs_src shown as is,
    as (page, line of the opening fence)."""
    lines = page.read_text("utf-8").splitlines()
    name = page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name
    found: list[tuple[str, int]] = []
    for start, info, shown in code_blocks(page):
        if info.split()[:1] != ["python"]:
            continue
        indent = FENCE.match(lines[start - 1])
        assert indent is not None
        end = start
        while lines[end].strip() != indent["fence"]:
            end += 1
        raw = [line.strip() for line in lines[start:end] if line.strip()]
        if raw and all(
            (match := SNIPPET.match(line)) and match["path"].startswith("docs_src/") for line in raw
        ):
            continue  # included: shows the file itself
        marker = MARKER.match(lines[start - 2]) if start >= 2 else None
        if marker and (ROOT / marker[1]).read_text("utf-8").splitlines() == shown:
            continue  # a copy under its marker, equal to the file
        found.append((name, start))
    return found


def test_every_python_sample_is_a_file_of_docs_src() -> None:
    unverified = [block for page in PAGES for block in unverified_python_blocks(page)]
    assert [block for block in unverified if block not in NOT_RUNNABLE] == [], (
        "```python blocks (page, line of the opening fence) whose code is not a file "
        "under docs_src: move the code into docs_src/<page>/, show it with "
        '`--8<-- "docs_src/..."` (a line range for a fragment) and run it in a test'
    )
    stale = sorted(set(NOT_RUNNABLE) - set(unverified))
    assert stale == [], "NOT_RUNNABLE lists blocks that are gone or now verified"


def test_the_sample_check_catches_a_loose_block_and_an_edited_copy(tmp_path: Path) -> None:
    page = tmp_path / "probe.md"
    page.write_text(
        "```python\nprint('loose')\n```\n\n"
        '```python title="x"\n--8<-- "docs_src/home/logging_setup.py"\n```\n\n'
        "<!-- docs_src/home/logging_setup.py -->\n```python\nimport logging\n```\n\n"
        '```python\n--8<-- "deploy/Dockerfile"\n```\n\n'
        "```console\n$ python\n```\n",
        "utf-8",
    )
    assert unverified_python_blocks(page) == [("probe.md", 1), ("probe.md", 10), ("probe.md", 14)]


# What each line range of a docs_src file must show: its first and its last line
# (dedented). A file edited above or inside a range moves it; this says so.
RANGES: dict[str, tuple[str, str]] = {
    "docs_src/running/stopping.py:28:34": (
        '@archive.action("copy", description="Copy every batch into the archive.")',
        '    return {"copied": input.batches}',
    ),
    "docs_src/client/errors.py:1:5": ("from tempest_sdk.client import (", ")"),
    "docs_src/client/errors.py:11:17": (
        "with TempestClient() as client:",
        "        raise SystemExit(str(exc)) from None",
    ),
    "docs_src/emulator/test_end_to_end.py:2:23": (
        "from tempest_sdk.emulator import Emulator",
        "    assert emulator.violations == []",
    ),
    "docs_src/emulator/in_process.py:7:9": (
        "emulator = Emulator()",
        '    assert await client.next_task("helloworld", "v1") is None',
    ),
    "docs_src/emulator/enqueueing.py:7:18": (
        "emulator.enqueue_operation(",
        'emulator.enqueue(app_id, version, list_request("example", next="2"))',
    ),
    "docs_src/emulator/leases.py:3:5": (
        "now = [0.0]",
        "# ... a client takes the task and never reports it ...",
    ),
    "docs_src/emulator/leases.py:10:11": (
        "now[0] += 5.0",
        "assert emulator.queued() == [task_id]  # it will be handed out again",
    ),
    "docs_src/emulator/faults.py:5:18": (
        'emulator.inject("apps.operations.next", status=503, times=2)  # then recovers',
        "emulator.clear_faults()",
    ),
    "docs_src/running/standalone.py:28:29": (
        'if __name__ == "__main__":',
        "    app.run()  # blocks until SIGINT or SIGTERM",
    ),
    "docs_src/running/embedded.py:2:5": (
        "import anyio",
        "from tempest_sdk.runner import Runner",
    ),
    "docs_src/running/embedded.py:15:26": ("async def main() -> None:", "anyio.run(main)"),
    "docs_src/running/task_group.py:11:20": (
        "async with (",
        "    await runner.shutdown(grace=10)",
    ),
    "docs_src/running/in_thread.py:1:1": (
        "from tempest_sdk.runner import Runner",
        "from tempest_sdk.runner import Runner",
    ),
    "docs_src/running/in_thread.py:11:16": (
        "# Its own event loop, in its own thread; returns once the runner is ready.",
        "    handle.stop()  # graceful; blocks until the thread ended",
    ),
    "docs_src/running/client_factory.py:10:11": (
        "runner = Runner(app, client=lambda: AsyncTempestClient(endpoint=url))",
        "handle = runner.start_in_thread()",
    ),
    "docs_src/running/hooks_metrics.py:1:10": (
        "from prometheus_client import Counter, Histogram",
        ")",
    ),
    "docs_src/running/hooks_metrics.py:14:38": (
        "TASKS = Counter(",
        "        REPORTS.labels(event.outcome).inc()",
    ),
    "docs_src/running/hooks_metrics.py:42:42": (
        "app.run(hooks=[Metrics()])",
        "app.run(hooks=[Metrics()])",
    ),
    "docs_src/running/hooks_tracing.py:9:18": (
        "class Tracing(Interceptor):",
        "            return report",
    ),
}
LINE_RANGE = re.compile(r'--8<-- "(docs_src/[^":]+:\d+:\d+)"')


def test_each_line_range_of_a_sample_shows_what_it_should() -> None:
    used = {spec for page in PAGES for spec in LINE_RANGE.findall(page.read_text("utf-8"))}
    # settings-and-secrets.md's range has a test of its own, above.
    unchecked = used - set(RANGES) - {"docs_src/writing_apps/lifespan.py:15:23"}
    assert sorted(unchecked) == [], "a new line range: add its first and last line to RANGES"
    assert sorted(set(RANGES) - used) == [], "RANGES lists a range no page shows"
    for spec, (first, last) in RANGES.items():
        shown = snippet(f'--8<-- "{spec}"')
        assert shown is not None
        assert (shown[0], shown[-1]) == (first, last), f"{spec} no longer shows its lines"
