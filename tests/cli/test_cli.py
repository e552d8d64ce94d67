"""Each command run as a subprocess: output and exit codes."""

from __future__ import annotations

import json

import pytest

from .conftest import APPS, HELLOWORLD

SHOP_V1 = str(APPS / "shop_v1.py")
SHOP_V2 = str(APPS / "shop_v2.py")


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.returncode == 0
    for command in ("describe", "connect", "serve", "invoke", "compare", "init", "emulator"):
        assert command in result.stdout


def test_each_command_help_has_examples(cli):
    for command in ("describe", "connect", "serve", "invoke", "compare", "init", "emulator"):
        result = cli(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "examples:" in result.stdout
        assert "tempest-sdk " + command in result.stdout


def test_describe_shows_types_and_flags(cli):
    result = cli("describe", SHOP_V1)
    assert result.returncode == 0, result.stderr
    assert "shop v1" in result.stdout
    header, row = result.stdout.splitlines()[2:4]
    assert header.split() == [
        "TYPE",
        "READ",
        "LIST",
        "CREATE",
        "UPDATE",
        "DELETE",
        "HEALTH",
        "ACTIONS",
    ]
    assert row.split() == ["order", "yes", "-", "yes", "-", "yes", "-", "refund"]
    assert "action refund: Refund" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not on a terminal


def test_describe_json_is_the_connect_payload(cli):
    result = cli("describe", f"{SHOP_V1}:app", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["app_id"] == "shop" and payload["version"] == "v1"
    (order,) = payload["resources"]
    assert order["create_supported"] is True and order["list_supported"] is False
    assert order["actions"][0]["name"] == "refund"
    assert order["actions"][0]["output_json_schema"]["properties"]["refunded"]["type"] == "boolean"


def test_module_reference_relative_to_working_directory(cli, tmp_path):
    (tmp_path / "myapp.py").write_text((APPS / "shop_v1.py").read_text())
    result = cli("describe", "myapp:app", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["app_id"] == "shop"


def test_bad_references_are_clear(cli):
    missing_file = cli("describe", "nowhere/app.py")
    assert missing_file.returncode == 2
    assert "no such file" in missing_file.stderr and "nowhere/app.py" in missing_file.stderr

    missing_module = cli("describe", "no_such_module_xyz:app")
    assert missing_module.returncode == 2
    assert "no module named 'no_such_module_xyz'" in missing_module.stderr

    missing_attr = cli("describe", f"{SHOP_V1}:shop")
    assert missing_attr.returncode == 2
    assert "has no attribute 'shop'" in missing_attr.stderr

    not_an_app = cli("describe", str(APPS / "not_an_app.py"))
    assert not_an_app.returncode == 2
    assert "is a dict, not a tempest_sdk.App" in not_an_app.stderr

    for result in (missing_file, missing_module, missing_attr, not_an_app):
        assert "Traceback" not in result.stderr


def test_user_module_raising_at_import_shows_their_traceback(cli):
    result = cli("describe", str(APPS / "broken.py"))
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "broken.py" in result.stderr and "_load_settings" in result.stderr
    assert "KeyError: 'SHOP_DATABASE_URL'" in result.stderr
    # The traceback starts in the user's code, not in ours or importlib's.
    assert "tempest_sdk/_cli" not in result.stderr
    assert "importlib" not in result.stderr
    assert result.stderr.rstrip().endswith("raised KeyError: 'SHOP_DATABASE_URL'")


def test_invoke_create_prints_ok_report(cli):
    result = cli("invoke", SHOP_V1, "order", "create", "--input", '{"item": "pear", "quantity": 2}')
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "ok"
    resource = report["response"]["resource"]
    assert resource["type"] == "order" and resource["display_name"] == "2 x pear"


def test_invoke_input_from_file_and_action(cli, tmp_path):
    (tmp_path / "refund.json").write_text('{"reason": "late"}')
    result = cli(
        "invoke", SHOP_V1, "order", "refund", "--external-id", "order-1", "--input", "@refund.json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["response"]["output"] == {"refunded": True}


def test_invoke_handler_error_exits_1_with_error_report(cli):
    result = cli(
        "invoke", SHOP_V1, "order", "refund", "--external-id", "order-1", "--env", "FAIL_REFUNDS=1"
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report == {
        "task_id": report["task_id"],
        "status": "error",
        "message": report["message"],
        "response": None,
    }
    assert "refunds are switched off" in report["message"]


def test_invoke_secret_never_printed(cli):
    result = cli(
        "invoke",
        SHOP_V1,
        "order",
        "read",
        "--external-id",
        "nope",
        "--secret",
        "API_KEY=hunter2-xyz",
    )
    assert result.returncode == 1
    assert "hunter2-xyz" not in result.stdout + result.stderr


def test_invoke_bad_json_input(cli):
    result = cli("invoke", SHOP_V1, "order", "create", "--input", '{"item": ')
    assert result.returncode == 2
    assert "--input is not valid JSON" in result.stderr and "line 1" in result.stderr

    not_object = cli("invoke", SHOP_V1, "order", "create", "--input", "[1, 2]")
    assert not_object.returncode == 2
    assert "must be a JSON object" in not_object.stderr

    missing_file = cli("invoke", SHOP_V1, "order", "create", "--input", "@nope.json")
    assert missing_file.returncode == 2
    assert "cannot read --input file 'nope.json'" in missing_file.stderr


def test_invoke_invalid_input_lists_fields(cli):
    result = cli("invoke", SHOP_V1, "order", "create", "--input", '{"quantity": 0}')
    assert result.returncode == 1
    assert "quantity" in json.loads(result.stdout)["message"]


def test_invoke_unknown_type_and_operation(cli):
    unknown_type = cli("invoke", SHOP_V1, "invoice", "create")
    assert unknown_type.returncode == 1
    message = json.loads(unknown_type.stdout)["message"]
    assert "invoice" in message and "order" in message

    unsupported = cli("invoke", SHOP_V1, "order", "update", "--external-id", "order-1")
    assert unsupported.returncode == 1
    assert "update" in json.loads(unsupported.stdout)["message"]

    unknown_action = cli("invoke", SHOP_V1, "order", "explode", "--external-id", "order-1")
    assert unknown_action.returncode == 1
    message = json.loads(unknown_action.stdout)["message"]
    assert "explode" in message and "refund" in message


def test_invoke_bad_env_pair(cli):
    result = cli("invoke", SHOP_V1, "order", "create", "--env", "NOVALUE")
    assert result.returncode == 2
    assert "--env takes KEY=VALUE" in result.stderr


def test_invoke_refuses_an_option_that_does_not_apply(cli):
    listing = cli(
        "invoke", SHOP_V1, "order", "list", "--input", "{}", "--external-id", "x", "--env", "A=1"
    )
    assert listing.returncode == 2
    assert "--input, --external-id, --env does not apply to list" in listing.stderr
    assert "it takes: --next" in listing.stderr

    create = cli("invoke", SHOP_V1, "order", "create", "--external-id", "o-1", "--next", "c")
    assert create.returncode == 2
    assert "--external-id, --next does not apply to create" in create.stderr

    action = cli("invoke", SHOP_V1, "order", "refund", "--next", "c")
    assert action.returncode == 2
    assert "does not apply to action 'refund'" in action.stderr


KEYS_APP = """
from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("keys", "v1")


class Props(BaseModel):
    name: str = "x"


thing = app.resource("thing", description="d", properties=Props)


@thing.read
def read(ctx: tempest.Context, resource: tempest.Resource) -> tempest.Resource:
    key = ctx.env.secret("API_KEY")
    raise tempest.TaskError(f"key={key} length={len(key)}")
"""


def test_invoke_secrets_from_a_file_or_the_environment_never_from_argv(cli, tmp_path):
    (tmp_path / "keys_app.py").write_text(KEYS_APP)
    (tmp_path / "api_key").write_text("from-file-secret-1\n")
    read = ("invoke", "keys_app.py", "thing", "read", "--external-id", "t1", "--secret")

    from_file = cli(*read, "API_KEY=@api_key")
    assert from_file.returncode == 1, from_file.stderr
    message = json.loads(from_file.stdout)["message"]
    # Delivered (without the file's newline) and masked.
    assert "key=********** length=18" in message
    assert "from-file-secret-1" not in from_file.stdout + from_file.stderr

    from_env = cli(*read, "API_KEY", env={"API_KEY": "from-env-secret-22"})
    assert "key=********** length=18" in json.loads(from_env.stdout)["message"]
    assert "from-env-secret-22" not in from_env.stdout + from_env.stderr

    missing = cli(*read, "NOPE_X")
    assert missing.returncode == 2
    assert "no environment variable NOPE_X" in missing.stderr


SICK_APP = """
from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("sick", "v1")


class Props(BaseModel):
    name: str = "x"


thing = app.resource("thing", description="d", properties=Props)
other = app.resource("other", description="d", properties=Props)


@thing.health_check
def thing_health() -> tempest.Health:
    raise ConnectionError("the backend is down")


@other.health_check
async def other_health() -> tempest.Health:
    return tempest.Health.healthy()
"""


def test_health_runs_the_checks_once_and_exits_by_their_status(cli, tmp_path):
    healthy = cli("health", str(HELLOWORLD), "--json")
    assert healthy.returncode == 0, healthy.stderr
    assert json.loads(healthy.stdout)["health_reports"] == [
        {"type": "example", "status": "healthy"}
    ]

    (tmp_path / "sick_app.py").write_text(SICK_APP)
    sick = cli("health", "sick_app.py")
    assert sick.returncode == 1
    lines = sick.stdout.splitlines()
    assert any(line.startswith("thing") and "disrupted" in line for line in lines), lines
    assert any(line.startswith("other") and "healthy" in line for line in lines), lines

    none = cli("health", SHOP_V1)
    assert none.returncode == 2
    assert "declares no health check" in none.stderr


FAILING_LIFESPAN = """
from collections.abc import AsyncIterator
import os

from pydantic import BaseModel

import tempest_sdk as tempest


class Props(BaseModel):
    size: int = 0


app = tempest.App("fragile", "v1")
thing = app.resource("thing", description="d", properties=Props)


@app.lifespan
async def lifespan() -> AsyncIterator[None]:
    if os.environ.get("FAIL_AT") == "start":
        raise ConnectionError("the backend refused the pool")
    yield
    if os.environ.get("FAIL_AT") == "end":
        raise RuntimeError("closing the pool failed")


@thing.read
async def read(resource: tempest.Resource) -> tempest.Resource:
    return resource


@thing.health_check
async def health() -> tempest.Health:
    return tempest.Health.healthy()
"""


@pytest.mark.parametrize(
    ("when", "said"),
    [
        ("start", "failed while starting: ConnectionError: the backend refused the pool"),
        ("end", "failed while ending: RuntimeError: closing the pool failed"),
    ],
)
@pytest.mark.parametrize("command", ["health", "invoke"])
def test_a_failing_lifespan_is_the_users_error_with_their_frames(
    cli, tmp_path, monkeypatch, command, when, said
):
    (tmp_path / "fragile.py").write_text(FAILING_LIFESPAN)
    monkeypatch.setenv("FAIL_AT", when)
    args = ["fragile.py"] if command == "health" else ["fragile.py", "thing", "read"]
    args += ["--external-id", "t1"] if command == "invoke" else []
    result = cli(command, *args)
    assert result.returncode == 1
    assert f"error: the lifespan of app fragile v1 {said}" in result.stderr
    frames = [line for line in result.stderr.splitlines() if line.lstrip().startswith('File "')]
    assert frames and all("fragile.py" in line for line in frames), frames


def test_compare_flags_breaking_changes(cli):
    result = cli("compare", SHOP_V1, SHOP_V2, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    changes = {(c["where"], c["what"]): c["breaking"] for c in data["changes"]}
    assert changes[("order", "delete no longer supported")] is True
    assert changes[("order", "list now supported")] is False
    assert changes[("order.actions.refund", "action removed")] is True
    assert changes[("order.properties", "field 'note' removed")] is True
    assert changes[("order.properties", "field 'quantity' changed type from integer to number")]
    assert changes[("order.create_input", "field 'item' is now required")] is True
    assert changes[("order.create_input", "field 'gift' added")] is False
    assert data["breaking"] == sum(changes.values())


def test_compare_text_and_fail_on_breaking(cli):
    result = cli("compare", SHOP_V1, SHOP_V2, "--fail-on-breaking")
    assert result.returncode == 1
    assert "shop v1 → shop v2" in result.stdout and "BREAKING" in result.stdout

    same = cli("compare", SHOP_V1, SHOP_V1, "--fail-on-breaking")
    assert same.returncode == 0
    assert "No changes" in same.stdout


def test_serve_helloworld_on_emulator(cli):
    result = cli("serve", str(HELLOWORLD), "--emulator")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("TASK") for line in lines)
    for step in (
        "example.create",
        "example.read",
        "example.update",
        "example.list",
        "example.delete",
    ):
        assert any(line.startswith(step) and " ok " in line for line in lines), step
    assert "tasks reported ok" in result.stdout


def test_serve_on_emulator_json_and_tasks_file(cli, tmp_path):
    tasks = [
        {"type": "order", "operation": "create", "input": {"item": "fig", "quantity": 3}},
        {"type": "order", "action": "refund", "input": {"reason": "damaged"}},
        {"type": "order", "operation": "read", "external_id": "order-404"},
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    result = cli("serve", SHOP_V1, "--emulator", "--tasks", "tasks.json", "--json")
    assert result.returncode == 1  # the read of a missing order is reported as an error
    results = json.loads(result.stdout)
    assert [(r["name"], r["status"], r["cleanup"]) for r in results] == [
        ("create", "ok", False),
        ("refund", "ok", False),
        ("read", "error", False),
        ("delete", "ok", True),  # what the run created is removed at the end
    ]
    assert "order-404" in results[2]["message"]


ENV_APP = """
from pydantic import BaseModel

import tempest_sdk as tempest

app = tempest.App("creds", "v1")


class Props(BaseModel):
    region: str


thing = app.resource("thing", description="d", properties=Props)


@thing.create
def create(ctx: tempest.Context) -> tempest.Resource:
    token = ctx.env.secret("TOKEN")
    if token != "file-free-token-1":
        raise tempest.TaskError("wrong token")
    region = ctx.env["REGION"]
    return tempest.Resource(external_id="t1", display_name="t", properties={"region": region})


@thing.delete
def delete(ctx: tempest.Context, resource: tempest.Resource) -> None:
    ctx.env.secret("TOKEN")  # the clean-up gets the variables of the create
"""


def test_serve_tasks_carry_variables_and_secrets_from_the_environment(cli, tmp_path):
    (tmp_path / "env_app.py").write_text(ENV_APP)
    tasks = [
        {
            "type": "thing",
            "operation": "create",
            "env": {"REGION": "eu"},
            "secrets_from_env": ["TOKEN"],
        }
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    result = cli(
        "serve",
        "env_app.py",
        "--emulator",
        "--tasks",
        "tasks.json",
        "--json",
        env={"TOKEN": "file-free-token-1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(result.stdout)
    assert [(r["name"], r["status"], r["cleanup"]) for r in results] == [
        ("create", "ok", False),
        ("delete", "ok", True),
    ]
    assert "file-free-token-1" not in result.stdout + result.stderr

    (tmp_path / "bad.json").write_text(
        json.dumps([{"type": "thing", "operation": "list", "env": {}}])
    )
    bad = cli("serve", "env_app.py", "--emulator", "--tasks", "bad.json")
    assert bad.returncode == 2
    assert "list tasks carry no environment variables" in bad.stderr


def test_serve_bad_tasks_file(cli, tmp_path):
    (tmp_path / "tasks.json").write_text('[{"type": "order"}]')
    result = cli("serve", SHOP_V1, "--emulator", "--tasks", "tasks.json")
    assert result.returncode == 2
    assert "tasks.json[0]" in result.stderr and "operation" in result.stderr


def test_serve_without_token_fails_fast(cli):
    result = cli("serve", SHOP_V1, timeout=60)
    assert result.returncode != 0
    assert "TEMPEST_TOKEN" in result.stderr


def test_emulator_flags_only_with_emulator(cli):
    result = cli("serve", SHOP_V1, "--keep-serving")
    assert result.returncode == 2
    assert "go with --emulator" in result.stderr


def test_tls_flags_reach_the_client(cli, tmp_path):
    for command in (("serve", SHOP_V1), ("connect", SHOP_V1, "--yes")):
        result = cli(
            *command,
            "--endpoint",
            "https://127.0.0.1:9/api/v1",
            "--ca-bundle",
            str(tmp_path / "corp-ca.pem"),
            input="",
            timeout=60,
            env={"TEMPEST_TOKEN": "t"},
        )
        assert result.returncode != 0, command
        assert "corp-ca.pem" in result.stderr, result.stderr
        assert "CA bundle" in result.stderr, result.stderr


def test_tls_flags_that_do_not_fit_exit_2(cli):
    alone = cli("serve", SHOP_V1, "--client-key", "k.pem")
    assert alone.returncode == 2
    assert "--client-key goes with --client-cert" in alone.stderr
    emulated = cli("serve", SHOP_V1, "--emulator", "--ca-bundle", "ca.pem")
    assert emulated.returncode == 2
    assert "do not go with --emulator" in emulated.stderr


def test_connect_requires_yes_without_terminal(cli):
    result = cli("connect", SHOP_V1, input="")
    assert result.returncode != 0
    assert "TEMPEST_TOKEN" in result.stderr or "--yes" in result.stderr


def test_init_rejects_bad_name_and_existing_directory(cli, tmp_path):
    bad = cli("init", "My_App")
    assert bad.returncode == 2
    assert "not valid" in bad.stderr

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")
    taken = cli("init", "taken")
    assert taken.returncode == 2
    assert "not empty" in taken.stderr
