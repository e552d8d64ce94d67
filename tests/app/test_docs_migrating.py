"""docs/migrating-from-go.md: its samples work, and it covers all of Tempest's Go toolkit.

The coverage claim ("every public name of the Go SDK's `app` package and every command
and flag of the CLI's `app` group") is checked against `go_public_names.txt`, a snapshot
of those names. When a mirror of the Go repositories is at hand (`TEMPEST_GO_MIRROR`,
default /work/.mirror), the snapshot is checked against it too. To refresh it:

    .venv/bin/python -c "from tests.app.test_docs_migrating import render_snapshot; \
print(render_snapshot(), end='')" > tests/app/go_public_names.txt
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk.testing import invoke

from .conftest import ROOT, action_task, assert_report, operation_task

PAGE = ROOT / "docs" / "migrating-from-go.md"
SAMPLES = ROOT / "docs_src" / "migrating"
SNAPSHOT = Path(__file__).resolve().parent / "go_public_names.txt"
MIRROR = Path(os.environ.get("TEMPEST_GO_MIRROR", "/work/.mirror"))
GO_SDK = MIRROR / "tempestdx+sdk-go" / "repo"
GO_CLI = MIRROR / "tempestdx+cli" / "repo"

# A sample is included by pymdownx.snippets: `--8<-- "path"` alone in a python block.
INCLUDE = re.compile(r'^```python\n--8<-- "(docs_src/migrating/\w+\.py)"\n```$', re.M)
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
CODE_SPAN = re.compile(r"`([^`\n]+)`")


def page() -> str:
    return PAGE.read_text("utf-8")


def load(name: str) -> ModuleType:
    # A fresh module each time: an app freezes once dispatched, and samples keep state.
    return importlib.reload(importlib.import_module(f"docs_src.migrating.{name}"))


# The page and its samples


def test_the_page_includes_each_sample_once() -> None:
    on_disk = sorted(
        str(p.relative_to(ROOT)) for p in SAMPLES.glob("*.py") if p.name != "__init__.py"
    )
    assert sorted(INCLUDE.findall(page())) == on_disk
    # Without the extension the page would show the include lines instead of the code.
    config = (ROOT / "mkdocs.yml").read_text("utf-8")
    assert re.search(r"^  - pymdownx\.snippets\b", config, re.M), "mkdocs.yml lost snippets"


def test_code_blocks_fit_an_80_column_content_area() -> None:
    # What the reader sees: included files in place of their include lines.
    shown = SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text("utf-8"), page())
    too_wide = [
        f"{kind or 'text'} block: {line!r} ({len(line)} columns)"
        for kind, body in FENCE.findall(shown)
        for line in body.splitlines()
        if len(line.expandtabs(8)) > 78
    ]
    assert not too_wide, "\n".join(too_wide)


# helloworld, typed and with JSON files


def test_helloworld_creates_and_is_healthy() -> None:
    app = load("helloworld").app
    report = invoke(app, "example", "create", input={"name": "my-resource"})
    assert report.status == "ok", report.message
    assert report.resource.properties == {"name": "my-resource"}
    assert report.resource.display_name == "Example resource name"
    assert re.fullmatch(r"[0-9a-f]{32}", report.resource.external_id)
    health = invoke_health(app)
    assert [(h.type, h.status) for h in health] == [("example", "healthy")]


def invoke_health(app: tempest.App) -> list[Any]:
    import anyio

    report = anyio.run(app.check_health)
    assert report is not None
    return list(report.health_reports)


@pytest.mark.parametrize("sample", ["helloworld", "helloworld_json"])
def test_helloworld_lists_every_violation_of_its_input(sample: str) -> None:
    app = load(sample).app
    report = invoke(app, "example", "create", input={"name": "my resource", "size": 3})
    assert report.status == "error"
    assert report.message is not None
    assert "create of 'example'" in report.message
    assert "name:" in report.message and "pattern" in report.message
    assert "size:" in report.message
    # A task without input is checked as `{}`: the required name is missing.
    missing = invoke(app, "example", "create")
    assert missing.status == "error"
    assert "name: is required" in (missing.message or "")


def test_both_helloworld_ports_publish_the_same_schemas() -> None:
    def schemas(sample: str) -> dict[str, Any]:
        wire: dict[str, Any] = load(sample).app.describe().to_wire()["resources"][0]
        for key in ("property_json_schema", "create_input_schema"):
            for ignored in ("$schema", "title"):
                wire[key].pop(ignored, None)
        return wire

    typed, raw = schemas("helloworld"), schemas("helloworld_json")
    assert typed == raw
    assert typed["create_input_schema"]["properties"]["name"]["examples"] == ["my-resource"]
    assert typed["create_input_schema"]["additionalProperties"] is False
    assert typed["healthcheck_supported"] and typed["create_supported"]


def test_the_json_port_hands_the_handler_a_validated_dict() -> None:
    app = load("helloworld_json").app
    report = invoke(app, "example", "create", input={"name": "from-json"})
    assert report.status == "ok", report.message
    assert report.resource.properties == {"name": "from-json"}


# Where the request fields went


def test_handlers_read_and_report_not_found() -> None:
    app = load("handlers").app
    found = invoke(app, "printer", "read", external_id="p-1")
    assert found.status == "ok", found.message
    assert found.resource.display_name == "LaserJet 4 (HQ, floor 2)"
    links = found.to_wire()["response"]["resource"]["links"]["links"]
    assert [link["type"] for link in links] == ["administration"]
    missing = invoke(app, "printer", "read", external_id="p-9")
    assert missing.message == "read of 'printer' failed: resource not found: no printer 'p-9'"


def test_handlers_update_uses_the_environment() -> None:
    app = load("handlers").app
    moved = invoke(
        app, "printer", "update", external_id="p-1", input={"location": "lab"}, env={"SITE": "Oslo"}
    )
    assert moved.status == "ok", moved.message
    assert moved.resource.properties == {"model": "LaserJet 4", "location": "Oslo, lab"}
    empty = invoke(app, "printer", "update", external_id="p-1", input={"location": ""})
    assert empty.status == "error"
    assert "location" in (empty.message or "")


def test_handlers_list_action_and_health() -> None:
    module = load("handlers")
    app = module.app
    page_ = invoke(app, "printer", "list")
    assert page_.status == "ok", page_.message
    assert [r.external_id for r in page_.resources] == ["p-1"]
    assert page_.to_wire()["response"]["next"] == ""
    printed = invoke(app, "printer", "print_test_page", external_id="p-1", input={"copies": 2})
    assert printed.status == "ok", printed.message
    assert printed.output == {"pages": 2, "requested_by": "Ada Lovelace"}
    defaulted = invoke(app, "printer", "print_test_page", external_id="p-1")
    assert defaulted.output == {"pages": 1, "requested_by": "Ada Lovelace"}
    too_many = invoke(app, "printer", "print_test_page", external_id="p-1", input={"copies": 11})
    assert too_many.status == "error"
    assert "copies" in (too_many.message or "")
    assert [(h.type, h.status) for h in invoke_health(app)] == [("printer", "healthy")]
    module.PRINTERS.clear()
    assert [(h.status, h.message) for h in invoke_health(app)] == [
        ("degraded", "no printer is registered")
    ]


def test_handlers_publish_the_action() -> None:
    wire = load("handlers").app.describe().to_wire()["resources"][0]
    (action,) = wire["actions"]
    assert action["name"] == "print_test_page"
    assert action["output_json_schema"]["required"] == ["pages", "requested_by"]
    assert wire["lifecycle_stage"] == "operate"


# Claims of "What behaves differently"


class _Note(BaseModel):
    text: str


def _claims_app() -> tempest.App:
    app = tempest.App("claims", "v1")
    note = app.resource("note", properties=_Note)

    @note.read
    async def read(resource: tempest.Resource) -> tempest.Resource:
        # Echo what the task brought: the Go CLI would bring no properties.
        return tempest.Resource(display_name=resource.display_name, properties=resource.properties)

    @note.update
    async def update(ctx: tempest.Context, input: _Note) -> tempest.Resource:
        token = ctx.env.secret("NOTES_TOKEN")
        raise PermissionError(f"token {token} was refused")

    @note.delete
    async def delete() -> None:
        return None

    return app


async def test_a_handler_gets_the_whole_resource_of_the_task() -> None:
    resource = {
        "type": "note",
        "external_id": "n-1",
        "display_name": "First note",
        "properties": {"text": "hello"},
    }
    wire = assert_report(
        await _claims_app().dispatch(operation_task("read", type="note", resource=resource))
    )
    assert wire["response"]["resource"]["display_name"] == "First note"
    assert wire["response"]["resource"]["properties"] == {"text": "hello"}


async def test_a_secret_in_an_error_message_is_masked() -> None:
    secret = "s3cr3t-value-123"
    task = operation_task(
        "update",
        type="note",
        external_id="n-1",
        input={"text": "x"},
        env=[{"name": "NOTES_TOKEN", "value": secret, "type": "secret"}],
    )
    wire = assert_report(await _claims_app().dispatch(task))
    assert secret not in json.dumps(wire)
    assert "token ********** was refused" in wire["message"]


async def test_a_delete_returning_none_reports_the_task_resource() -> None:
    task = operation_task("delete", type="note", external_id="n-7")
    wire = assert_report(await _claims_app().dispatch(task))
    assert wire["response"]["resource"]["external_id"] == "n-7"


async def test_an_unknown_action_is_an_error_report() -> None:
    wire = assert_report(await _claims_app().dispatch(action_task("shred", type="note")))
    assert "shred" in wire["message"]


# The commands shown on the page


def _console_commands() -> list[str]:
    commands = []
    for kind, body in FENCE.findall(page()):
        if kind == "console":
            commands += [
                line
                for line in body.replace("\\\n", " ").splitlines()
                if line.startswith("tempest-sdk ")
            ]
    return commands


def _cli(command: str) -> subprocess.CompletedProcess[str]:
    # No Tempest settings of the developer's; the emulator needs none.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    return subprocess.run(
        [sys.executable, "-m", "tempest_sdk", *shlex.split(command)[1:]],
        cwd=ROOT,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a speed check
        check=False,
    )


def test_the_page_shows_three_commands() -> None:
    assert [c.split()[1] for c in _console_commands()] == ["describe", "invoke", "serve"]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(c, marks=[pytest.mark.integration] if " serve " in c else [])
        for c in _console_commands()
    ],
)
def test_a_command_of_the_page_works(command: str) -> None:
    done = _cli(command)
    assert done.returncode == 0, done.stdout + done.stderr
    if " describe " in command:
        assert "helloworld v1" in done.stdout
    elif " invoke " in command:
        assert json.loads(done.stdout)["status"] == "ok"
    else:
        # The real runner against the real emulator on loopback.
        assert "127.0.0.1" in done.stdout
        assert "example.create" in done.stdout and " ok " in done.stdout


# Coverage of Tempest's Go toolkit


def read_snapshot() -> set[str]:
    lines = SNAPSHOT.read_text("utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table after `heading`, as lists of cells."""
    section = page().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_the_page_names_every_go_identifier_of_the_snapshot() -> None:
    go_column = {
        word
        for row in _table("The Go `app` package, name by name")
        for span in CODE_SPAN.findall(row[0])
        for word in re.findall(r"\w+", span)
    }
    names = {
        line.split()[-1].rsplit(".", 1)[-1] for line in read_snapshot() if line.startswith("go ")
    }
    assert len(names) > 60, "the snapshot lost the Go package's names"
    missing = sorted(names - go_column)
    assert not missing, f"the Go package table of {PAGE.name} does not name: {missing}"


def test_the_page_maps_every_cli_command_flag_and_variable_of_the_snapshot() -> None:
    first_cells = [row[0] for row in _table("The `tempest app` commands")]
    missing = []
    for entry in sorted(read_snapshot()):
        kind, *rest = entry.split()
        if kind != "cli":
            continue
        what, *names = rest
        if what == "command":
            found = any(f"`tempest app {names[0]}" in cell for cell in first_cells)
        elif what == "flag":
            command, flag = names
            prefix = "`tempest app" if command in ("app", "tempest") else f"`tempest app {command}"
            flag_re = re.compile(rf"(?<![\w-]){re.escape(flag)}(?![\w-])")
            found = any(prefix in cell and flag_re.search(cell) for cell in first_cells)
        else:
            found = any(f"`{names[0]}`" in cell for cell in first_cells)
        if not found:
            missing.append(entry)
    assert not missing, f"the command table of {PAGE.name} does not map: {missing}"


# Reading the Go repositories (when mirrored)

_GO_FUNC = re.compile(r"^func ([A-Z]\w*)\(", re.M)
_GO_METHOD = re.compile(r"^func \(\w+ \*?(\w+)\) ([A-Z]\w*)\(", re.M)
_GO_SINGLE = re.compile(r"^(type|const|var) ([A-Z]\w*)\b", re.M)
_GO_GROUP = re.compile(r"^(type|const|var) \(\n(.*?)^\)", re.M | re.S)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def _go_files(repo: Path, folder: str) -> dict[str, str]:
    paths = _git(repo, "ls-tree", "-r", "--name-only", "HEAD", f"{folder}/").splitlines()
    return {
        path: _git(repo, "show", f"HEAD:{path}")
        for path in paths
        if re.fullmatch(rf"{folder}/[^/]+\.go", path) and not path.endswith("_test.go")
    }


def go_sdk_names(repo: Path) -> set[str]:
    """The exported identifiers of package `app` of tempestdx/sdk-go."""
    names = set()
    for text in _go_files(repo, "app").values():
        names |= {f"go func {name}" for name in _GO_FUNC.findall(text)}
        names |= {f"go method {recv}.{name}" for recv, name in _GO_METHOD.findall(text)}
        names |= {f"go {kind} {name}" for kind, name in _GO_SINGLE.findall(text)}
        for kind, body in _GO_GROUP.findall(text):
            names |= {f"go {kind} {name}" for name in re.findall(r"^\t([A-Z]\w*)\b", body, re.M)}
    return names


def go_cli_names(repo: Path) -> set[str]:
    """The `app` group of tempestdx/cli: commands, their flags, inherited flags, variables."""
    text = "\n".join(_go_files(repo, "cmd").values())

    def flags(var: str) -> list[str]:
        pattern = rf"\b{var}\.(?:Persistent)?Flags\(\)\.\w+\(&\w+,\s*\"([\w-]+)\""
        return re.findall(pattern, text)

    names = set()
    for var in re.findall(r"\bappCmd\.AddCommand\((\w+)\)", text):
        match = re.search(rf"\b{var}\s*=\s*&cobra\.Command\{{.*?\bUse:\s*\"([\w-]+)", text, re.S)
        assert match, f"no cobra.Command named {var} in the CLI's cmd/"
        command = match.group(1)
        names.add(f"cli command {command}")
        names |= {f"cli flag {command} --{flag}" for flag in flags(var)}
    # Persistent flags of the group and of the root apply to every `app` command.
    names |= {f"cli flag app --{flag}" for flag in flags("appCmd")}
    root = re.findall(r"\brootCmd\.PersistentFlags\(\)\.\w+\(&\w+,\s*\"([\w-]+)\"", text)
    names |= {f"cli flag tempest --{flag}" for flag in root}
    names |= {f"cli env {name}" for name in re.findall(r"os\.Getenv\(\"(TEMPEST_\w+)\"\)", text)}
    return names


def _require_mirror() -> None:
    if shutil.which("git") is None or not (GO_SDK.is_dir() and GO_CLI.is_dir()):
        pytest.skip(
            f"no mirror of Tempest's Go SDK and CLI under {MIRROR} (set TEMPEST_GO_MIRROR "
            "to a folder holding tempestdx+sdk-go/repo and tempestdx+cli/repo); the page is "
            "still checked against the snapshot tests/app/go_public_names.txt"
        )


def render_snapshot() -> str:
    """The text of go_public_names.txt, from the mirrored repositories."""
    _require_mirror()
    sdk, cli = _git(GO_SDK, "rev-parse", "HEAD").strip(), _git(GO_CLI, "rev-parse", "HEAD").strip()
    header = [
        "# The public names of Tempest's Go toolkit that docs/migrating-from-go.md must map:",
        "# exported identifiers of package app of github.com/tempestdx/sdk-go, and the",
        "# commands, flags (with the group's and the root's persistent ones) and variables",
        "# of the `app` group of github.com/tempestdx/cli. Generated by",
        "# tests/app/test_docs_migrating.py:render_snapshot, which says how to refresh it.",
        f"# sdk-go {sdk}",
        f"# cli {cli}",
    ]
    body = sorted(go_sdk_names(GO_SDK)) + sorted(go_cli_names(GO_CLI))
    return "\n".join(header + body) + "\n"


def test_the_snapshot_matches_the_go_repositories() -> None:
    _require_mirror()
    mirrored = go_sdk_names(GO_SDK) | go_cli_names(GO_CLI)
    snapshot = read_snapshot()
    assert snapshot == mirrored, (
        f"the Go toolkit changed: new {sorted(mirrored - snapshot)}, "
        f"gone {sorted(snapshot - mirrored)}; refresh {SNAPSHOT.name} (see this module's "
        "docstring) and map the new names on the page"
    )
