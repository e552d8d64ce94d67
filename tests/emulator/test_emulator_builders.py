"""The public task builders of `tempest_sdk.emulator`, and who may import what from it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tempest_sdk.emulator import (
    DEFAULT_PROJECT,
    Emulator,
    action_request,
    default_environment,
    default_metadata,
    list_request,
    next_answer,
    operation_request,
)
from tempest_sdk.models import (
    EnvironmentVariableType,
    ExecuteResourceActionRequest,
    ExecuteResourceOperationRequest,
    ListResourcesRequest,
    Operation,
    parse_task,
)
from tempest_sdk.testing import sample_task

from .conftest import APP, VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_a_create_has_no_resource_id_and_empty_input_by_default():
    request = operation_request("example", "create")

    assert request["request_type"] == "execute_resource_operation"
    assert request["operation"] == "create"
    assert request["input"] == {}
    assert "id" not in request["resource"]
    assert request["resource"]["type"] == "example"
    assert request["environment_variables"] == default_environment()


def test_other_operations_name_an_existing_resource():
    read = operation_request("example", "read", external_id="ex-1")
    given = operation_request(
        "example",
        "update",
        external_id="ex-1",
        display_name="Example 1",
        input={"color": "blue"},
        properties={"color": "red"},
        environment_variables={"REGION": "eu"},
        resource_id="res_fixed",
    )

    assert read["resource"]["id"].startswith("res_") and "input" not in read
    assert read["resource"]["display_name"] == "ex-1"
    assert given["resource"]["id"] == "res_fixed"
    assert given["resource"]["display_name"] == "Example 1"
    assert given["resource"]["properties"] == {"color": "red"}
    assert given["input"] == {"color": "blue"}
    assert given["environment_variables"] == [{"name": "REGION", "value": "eu", "type": "variable"}]


def test_an_unknown_operation_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown operation 'destroy': use one of 'create'"):
        operation_request("example", "destroy")


def test_the_old_operation_first_order_still_works_with_a_deprecation_warning():
    new = operation_request("example", "update", external_id="ex-1", resource_id="res_1")
    with pytest.warns(DeprecationWarning, match="comes first") as caught:
        old = operation_request("update", "example", external_id="ex-1", resource_id="res_1")

    assert (old["operation"], old["resource"]["type"]) == ("update", "example")
    assert {k: v for k, v in old.items() if k != "resource"} == {
        k: v for k, v in new.items() if k != "resource"
    }
    (warning,) = caught
    assert str(warning.message).startswith(
        "operation_request('update', 'example'): the resource type comes first now; "
        "write operation_request('example', 'update')"
    )
    assert warning.filename == __file__  # points at the caller's line


def test_an_operation_enum_first_is_the_old_order_too():
    with pytest.warns(DeprecationWarning, match="the resource type comes first"):
        request = operation_request(Operation.DELETE, "example", external_id="ex-1")
    assert (request["operation"], request["resource"]["type"]) == ("delete", "example")
    request = operation_request("example", Operation.DELETE, external_id="ex-1")
    assert (request["operation"], request["resource"]["type"]) == ("delete", "example")


def test_a_type_named_like_an_operation_is_read_type_first_without_a_warning(
    recwarn: pytest.WarningsRecorder,
):
    request = operation_request("delete", "create")
    assert (request["resource"]["type"], request["operation"]) == ("delete", "create")
    request = operation_request(resource_type="read", operation="update")
    assert (request["resource"]["type"], request["operation"]) == ("read", "update")
    assert recwarn.list == []


def test_keywords_read_the_same_in_any_order(recwarn: pytest.WarningsRecorder):
    by_keyword = operation_request(operation="read", resource_type="example", resource_id="r")
    positional = operation_request("example", "read", resource_id="r")
    assert by_keyword["operation"] == positional["operation"] == "read"
    assert by_keyword["resource"]["type"] == positional["resource"]["type"] == "example"
    assert recwarn.list == []


def test_an_action_given_as_an_operation_points_at_enqueue_action():
    with pytest.raises(ValueError, match="the type comes first, here 'flag'; an action goes"):
        operation_request("flag", "rollout")


def test_enqueue_operation_takes_the_type_first_and_the_old_order_with_a_warning():
    emulator = Emulator(seed=1)
    new = emulator.enqueue_operation(APP, VERSION, "example", "read", external_id="ex-1")
    with pytest.warns(DeprecationWarning, match="comes first") as caught:
        old = emulator.enqueue_operation(APP, VERSION, "read", "example", external_id="ex-1")
    both = emulator.task(new), emulator.task(old)
    assert [(t.subject.resource_type, t.subject.name) for t in both] == [("example", "read")] * 2
    (warning,) = caught
    assert "write enqueue_operation('example', 'read')" in str(warning.message)
    assert warning.filename == __file__
    action = emulator.enqueue_action(APP, VERSION, "example", "rebuild", external_id="ex-1")
    assert emulator.task(action).subject.name == "rebuild"


def test_a_misspelt_option_is_refused_not_dropped():
    with pytest.raises(TypeError, match="unexpected keyword argument 'inputs': the options"):
        operation_request("example", "create", inputs={"color": "blue"})  # type: ignore[call-arg]
    emulator = Emulator()
    with pytest.raises(TypeError, match="unexpected keyword argument 'externalid'"):
        emulator.enqueue_action(APP, VERSION, "example", "rebuild", externalid="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'statuss'"):
        emulator.inject("*", statuss=503)  # type: ignore[call-arg]
    assert emulator.queued() == []


def test_action_and_list_requests():
    action = action_request("example", "rebuild", external_id="ex-1")
    listing = list_request("example")

    assert action["request_type"] == "execute_resource_action"
    assert action["action"] == "rebuild" and action["input"] == {}
    assert action["resource"]["id"].startswith("res_")
    assert listing == {
        "request_type": "list_resources",
        "resource": {"type": "example", "external_id": "", "display_name": ""},
        "next": "",
    }
    assert list_request("example", "page-2")["next"] == "page-2"


def test_next_answer_is_a_contract_task_with_realistic_metadata():
    answer = next_answer("task-1", operation_request("example", "create"))
    task = parse_task(answer)

    assert answer["metadata"] == default_metadata()
    assert default_metadata()["project_id"] == DEFAULT_PROJECT["id"]
    assert isinstance(task.task, ExecuteResourceOperationRequest)
    secret = next(
        v for v in task.task.environment_variables if v.type == EnvironmentVariableType.SECRET
    )
    assert secret.reveal() == "emulator-secret-value"
    assert "emulator-secret-value" not in repr(task)
    action = parse_task(next_answer("t", action_request("x", "a")))
    assert isinstance(action.task, ExecuteResourceActionRequest)
    assert isinstance(parse_task(next_answer("t", list_request("x"))).task, ListResourcesRequest)


def test_next_answer_says_where_a_task_breaks_the_contract():
    broken = {**list_request("example"), "resource": "example"}

    with pytest.raises(ValueError, match=r"^invalid task: task\.resource: expected an object"):
        next_answer("task-1", broken)
    with pytest.raises(ValueError, match=r"metadata\.owners: expected an array"):
        next_answer("task-1", list_request("example"), {**default_metadata(), "owners": {}})


def test_the_emulator_and_the_testing_kit_build_tasks_alike():
    emulator = Emulator(seed=3)
    built = operation_request("example", "update", external_id="ex-1", input={"a": 1})
    by_builder = emulator.task(emulator.enqueue(APP, VERSION, built))
    helper_id = emulator.enqueue_operation(
        APP, VERSION, "example", "update", external_id="ex-1", input={"a": 1}
    )
    by_helper = emulator.task(helper_id)
    sampled = sample_task("example", "update", external_id="ex-1", input={"a": 1})

    for task in (by_builder, by_helper, sampled):
        assert isinstance(task.task, ExecuteResourceOperationRequest)
        assert task.task.resource.external_id == "ex-1"
        assert task.task.input == {"a": 1}
        assert task.metadata.project_id == DEFAULT_PROJECT["id"]


def private_emulator_imports(source: str, package: str) -> list[tuple[int, str]]:
    """`(line, name)` of each import of a private `tempest_sdk.emulator` module in `source`,
    relative imports resolved against `package` (the importing module's package)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            names = [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.startswith("tempest_sdk.emulator._")]
    return found


def test_nothing_outside_the_emulator_imports_its_private_modules():
    found = []
    for folder in ("tempest_sdk", "docs_src", "examples", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("tempest_sdk", "emulator"):
                continue
            package = ".".join(relative.with_suffix("").parts[:-1])
            for line, name in private_emulator_imports(path.read_text("utf-8"), package):
                found.append(f"{relative}:{line}: {name}")

    assert found == []


def test_the_import_check_resolves_relative_imports():
    source = (
        "from ..emulator._tasks import list_request\n"
        "from ..emulator import Emulator\n"
        "import tempest_sdk.emulator._core\n"
        "from . import _samples\n"
    )

    assert private_emulator_imports(source, "tempest_sdk.testing") == [
        (1, "tempest_sdk.emulator._tasks.list_request"),
        (3, "tempest_sdk.emulator._core"),
    ]
