"""Declaring apps, resource types and handlers; every mistake fails at definition time."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import tempest_sdk as tempest
from tempest_sdk import DefinitionError
from tempest_sdk._app._handlers import Slot


class Props(BaseModel):
    color: str


class Color(BaseModel):
    color: str = "red"


class Out(BaseModel):
    ok: bool


def make(**kwargs: Any) -> tuple[tempest.App, tempest.ResourceType]:
    app = tempest.App("helloworld", "v1")
    return app, app.resource("example", properties=kwargs.pop("properties", Props), **kwargs)


# -- App ----------------------------------------------------------------------------------


@pytest.mark.parametrize("app_id", ["hello-world", "a1", "0abc", "x-"])
def test_valid_app_ids(app_id: str) -> None:
    assert tempest.App(app_id, "v12").app_id == app_id


@pytest.mark.parametrize("app_id", ["", "a", "Hello", "-abc", "hello_world", "héllo", 3])
def test_app_id_must_match_the_cli_pattern(app_id: Any) -> None:
    with pytest.raises(DefinitionError, match=r"\^\[a-z0-9\]\[a-z0-9-\]\+\$"):
        tempest.App(app_id, "v1")


@pytest.mark.parametrize("version", ["1", "v", "V1", "v1.0", "v1 "])
def test_version_must_match_the_cli_pattern(version: str) -> None:
    with pytest.raises(DefinitionError, match=r"e\.g\. 'v1'"):
        tempest.App("hello", version)


def test_app_reports_both_problems_at_once() -> None:
    with pytest.raises(DefinitionError) as info:
        tempest.App("Bad", "1")
    assert len(info.value.problems) == 2
    assert "2 problems" in str(info.value)


def test_app_basics() -> None:
    app = tempest.App("hello", version="v3")
    assert (app.app_id, app.version) == ("hello", "v3")
    example = app.resource("example")
    assert app.resource_types == {"example": example}
    assert "hello v3" in repr(app)


# -- resource types -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["example", "_x", "A1_b", "Dashboard"])
def test_valid_type_names(name: str) -> None:
    assert tempest.App("hello", "v1").resource(name).type == name


@pytest.mark.parametrize("name", ["", "1abc", "my-type", "a b", "ñ", "a.b"])
def test_type_name_pattern(name: str) -> None:
    """Mirrors Go `WithResourceDefinition`: it panics on names outside ResourceTypePattern."""
    with pytest.raises(DefinitionError, match=r"\^\[A-Za-z_\]\[A-Za-z0-9_\]\*\$"):
        tempest.App("hello", "v1").resource(name)


def test_duplicate_type() -> None:
    """Mirrors Go `WithResourceDefinition`: a second definition of a type panics."""
    app = tempest.App("hello", "v1")
    app.resource("example")
    with pytest.raises(DefinitionError, match="already declared"):
        app.resource("example")


def test_resource_defaults() -> None:
    app = tempest.App("hello", "v1")
    definition = app.resource("my_bucket").definition()
    assert definition.display_name == "My bucket"
    assert definition.description == ""
    assert definition.lifecycle_stage == "other"
    assert definition.property_json_schema is None


def test_bad_resource_arguments_are_all_listed() -> None:
    app = tempest.App("hello", "v1")
    with pytest.raises(DefinitionError) as info:
        app.resource(
            "example",
            display_name=3,  # type: ignore[arg-type]
            description=None,  # type: ignore[arg-type]
            lifecycle_stage="ship",
            links=["https://example.com"],  # type: ignore[list-item]
            instructions=42,  # type: ignore[arg-type]
            timeout=-1,
        )
    text = str(info.value)
    assert text.startswith("app.resource('example'): 6 problems")
    for fragment in (
        "display_name must be a string",
        "description must be a string",
        "lifecycle_stage 'ship' is not one of: code, build, test, release, deploy, operate",
        "links[0] is a str, not a tempest.Link",
        "instructions must be Markdown text",
        "timeout must be a positive number",
    ):
        assert fragment in text


def test_links_must_be_a_list() -> None:
    with pytest.raises(DefinitionError, match=r"links must be a list of tempest\.Link"):
        tempest.App("hello", "v1").resource("x", links=tempest.Link.support("https://s"))  # type: ignore[arg-type]


def test_lifecycle_stage_accepts_the_enum() -> None:
    app = tempest.App("hello", "v1")
    rt = app.resource("x", lifecycle_stage=tempest.LifecycleStage.MONITOR)
    assert rt.definition().lifecycle_stage == "monitor"


def test_instructions_from_a_markdown_file(tmp_path: Path) -> None:
    doc = tmp_path / "example.md"
    doc.write_text("# Use it\n\nWell.", encoding="utf-8")
    app = tempest.App("hello", "v1")
    assert app.resource("x", instructions=doc).definition().instructions_markdown == (
        "# Use it\n\nWell."
    )
    text_app = tempest.App("hello", "v1")
    definition = text_app.resource("x", instructions="plain *markdown*").definition()
    assert definition.instructions_markdown == "plain *markdown*"


def test_relative_instructions_path_is_resolved_next_to_the_declaring_module() -> None:
    here = Path(__file__).resolve().parent
    relative = Path("go_examples") / "README-for-test.md"
    (here / relative).write_text("hello from a file", encoding="utf-8")
    try:
        app = tempest.App("hello", "v1")
        definition = app.resource("x", instructions=relative).definition()
        assert definition.instructions_markdown == "hello from a file"
    finally:
        (here / relative).unlink()


def test_missing_instructions_file() -> None:
    with pytest.raises(DefinitionError, match=r"instructions: cannot read .*nope\.md"):
        tempest.App("hello", "v1").resource("x", instructions=Path("nope.md"))


def test_properties_of_the_wrong_kind() -> None:
    with pytest.raises(DefinitionError, match="properties: expected a pydantic model"):
        tempest.App("hello", "v1").resource("x", properties=[1, 2])  # type: ignore[arg-type]


def test_properties_that_are_not_a_schema_type() -> None:
    with pytest.raises(
        DefinitionError, match="int is not a pydantic model, dataclass or TypedDict"
    ):
        tempest.App("hello", "v1").resource("x", properties=int)


# -- handlers -----------------------------------------------------------------------------


def test_decorators_return_the_function_unchanged() -> None:
    _, example = make()

    async def create(ctx: tempest.Context, input: Color) -> tempest.Resource:
        raise NotImplementedError

    def read(resource: tempest.Resource) -> tempest.Resource:
        raise NotImplementedError

    async def rebuild(resource: tempest.Resource) -> Out:
        raise NotImplementedError

    assert example.create(create) is create
    assert example.read(timeout=3)(read) is read
    assert example.action("rebuild")(rebuild) is rebuild
    assert example.operations == ("create", "read")
    assert example.actions == ("rebuild",)
    assert "create, read" in repr(example)


def test_registration_runs_nothing() -> None:
    calls: list[str] = []
    _, example = make()

    @example.create
    async def create(input: Color) -> tempest.Resource:
        calls.append("create")
        raise NotImplementedError

    @example.health_check
    def health() -> tempest.Health:
        calls.append("health")
        raise NotImplementedError

    assert calls == []


@pytest.mark.parametrize("kind", ["create", "read", "update", "delete", "list"])
def test_crud_and_list_need_a_properties_schema(kind: str) -> None:
    """Mirrors Go `CreateFn`/`ReadFn`/...: they panic when PropertiesSchema is nil."""
    app = tempest.App("hello", "v1")
    example = app.resource("example")

    def handler() -> Any:
        raise NotImplementedError

    with pytest.raises(DefinitionError, match=f"a {kind} handler needs a properties schema"):
        getattr(example, kind)(handler)


def test_health_check_and_actions_need_no_properties() -> None:
    app = tempest.App("hello", "v1")
    example = app.resource("example")

    @example.health_check
    def health() -> tempest.Health:
        return tempest.Health.healthy()

    @example.action("ping")
    def ping() -> dict[str, Any]:
        return {}

    assert example.has_health_check


def test_an_operation_registered_twice() -> None:
    _, example = make()

    @example.read
    def read(resource: tempest.Resource) -> tempest.Resource:
        return resource

    with pytest.raises(DefinitionError, match="a read handler is already registered"):

        @example.read
        def read_again(resource: tempest.Resource) -> tempest.Resource:
            return resource


def test_duplicate_action_names() -> None:
    """Mirrors Go `AddActionDefinition`: a second action of the same name panics."""
    _, example = make()

    @example.action("rebuild")
    def rebuild() -> dict[str, Any]:
        return {}

    with pytest.raises(DefinitionError, match="action 'rebuild' is already registered"):
        example.action("rebuild")


def test_duplicate_action_applied_late() -> None:
    _, example = make()
    first, second = example.action("go"), example.action("go")

    def go() -> dict[str, Any]:
        return {}

    first(go)
    with pytest.raises(DefinitionError, match="already registered"):
        second(go)


@pytest.mark.parametrize("name", ["", " x", 3])
def test_action_names(name: Any) -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="must be a non-empty string"):
        example.action(name)


def test_unannotated_parameter() -> None:
    _, example = make()
    with pytest.raises(DefinitionError) as info:

        @example.read
        def read(resource):  # type: ignore[no-untyped-def]
            return resource

    message = str(info.value)
    assert "resource type 'example', read handler" in message
    assert "test_declare.py:" in message  # where: file and line
    assert "parameter 'resource' has no type annotation" in message
    assert "tempest.Context, tempest.Resource" in message  # how to fix


def test_parameters_the_sdk_cannot_place() -> None:
    _, example = make()
    with pytest.raises(DefinitionError) as info:

        @example.read
        def read(resource: tempest.Resource, count: int, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    problems = info.value.problems
    assert any("parameter 'count': a read handler cannot receive int" in p for p in problems)
    assert any("parameter 'args': *args and **kwargs cannot be injected" in p for p in problems)
    assert any("parameter 'kwargs'" in p for p in problems)


def test_inputs_only_where_there_is_input() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="a read handler cannot receive Color"):

        @example.read
        def read(input: Color) -> tempest.Resource:
            raise NotImplementedError


def test_a_slot_asked_twice() -> None:
    _, example = make()
    with pytest.raises(
        DefinitionError, match=r"parameters 'a' and 'b' both ask for tempest\.Context"
    ):

        @example.read
        def read(a: tempest.Context, b: tempest.Context) -> tempest.Resource:
            raise NotImplementedError


def test_wrong_return_annotations() -> None:
    _, example = make()
    for kind, returns in [
        ("create", "int"),
        ("read", "None"),
        ("delete", "str"),
        ("list", "list[int]"),
        ("health_check", "bool"),
    ]:
        namespace: dict[str, Any] = {"tempest": tempest}
        exec(f"def handler() -> {returns}: ...", namespace)
        with pytest.raises(
            DefinitionError, match=f"a {kind.replace('_', ' ')} handler must return"
        ):
            getattr(example, kind)(namespace["handler"])


def test_accepted_return_annotations() -> None:
    _, example = make()

    @example.delete
    def delete(resource: tempest.Resource) -> tempest.Resource | None:
        return None

    @example.list
    def list_all(cursor: str) -> list[tempest.Resource]:
        return []

    assert example.operations == ("delete", "list")


def test_unresolvable_annotation() -> None:
    _, example = make()

    def read(resource: Missing) -> tempest.Resource:  # type: ignore[name-defined]  # noqa: F821
        raise NotImplementedError

    with pytest.raises(DefinitionError, match="cannot resolve the handler's annotations"):
        example.read(read)


def test_builtins_are_not_handlers() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="register a function defined with def"):
        example.action("go")(dict)


def test_unplaceable_parameters_with_defaults_keep_them() -> None:
    _, example = make()

    @example.read
    def read(
        count: int = 3, ctx: tempest.Context | None = None, *, resource: tempest.Resource
    ) -> Any:
        raise NotImplementedError

    handler = example._handlers["read"]
    assert handler.keyword == (("resource", Slot.RESOURCE),)
    assert not handler.wants_context  # `Context | None` is not a Context: left at its default

    def bad(x: int = 0, /, resource: tempest.Resource = None) -> Any:  # type: ignore[assignment]
        raise NotImplementedError

    bad_app, bad_example = make()
    del bad_app
    bad_example.read(bad)
    assert bad_example._handlers["read"].keyword == (("resource", Slot.RESOURCE),)


def test_generators_are_refused() -> None:
    _, example = make()

    async def read(resource: tempest.Resource) -> Any:
        yield resource

    with pytest.raises(DefinitionError, match="must return its result, not yield it"):
        example.read(read)


def test_not_callable() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="the handler must be a function"):
        example.read(42)  # type: ignore[call-overload]


def test_bad_timeout() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="timeout must be a positive number"):
        example.read(timeout=0)(lambda resource: resource)


def test_raw_input_schema_needs_a_dict_parameter() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="annotate 'input' as dict\\[str, Any\\]"):

        @example.create(input_schema={"type": "object", "properties": {}})
        def create(input: Color) -> tempest.Resource:
            raise NotImplementedError


def test_input_schema_model_must_match_the_annotation() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="annotate it with the same type"):

        @example.update(input_schema=Props)
        def update(input: Color) -> tempest.Resource:
            raise NotImplementedError


def test_input_schema_model_without_an_input_parameter() -> None:
    _, example = make()

    @example.create(input_schema=Color)
    def create() -> tempest.Resource:
        raise NotImplementedError

    schema = example.definition().create_input_schema
    assert schema is not None
    assert schema["properties"]["color"]["default"] == "red"


def test_action_return_annotation_that_is_not_an_object() -> None:
    _, example = make()
    with pytest.raises(DefinitionError, match="an action returns its output"):

        @example.action("count")
        def count() -> int:
            return 1


def test_keyword_only_and_positional_only_parameters_are_placed() -> None:
    _, example = make()

    @example.create
    def create(input: Color, /, *, ctx: tempest.Context) -> tempest.Resource:
        raise NotImplementedError

    handler = example._handlers["create"]
    assert handler.wants_context
    assert handler.keyword == (("ctx", Slot.CONTEXT),)


def test_annotated_parameters_are_placed_by_their_type() -> None:
    from typing import Annotated

    _, example = make()

    @example.read
    def read(resource: Annotated[tempest.Resource, "the resource"]) -> tempest.Resource:
        return resource

    assert example.operations == ("read",)


def test_dataclass_and_typeddict_inputs() -> None:
    from typing_extensions import TypedDict

    @dataclasses.dataclass
    class Size:
        size: int = 1

    class Tag(TypedDict):
        tag: str

    _, example = make()

    @example.create
    def create(input: Size) -> tempest.Resource:
        raise NotImplementedError

    @example.update
    def update(input: Tag) -> tempest.Resource:
        raise NotImplementedError

    definition = example.definition()
    assert definition.create_input_schema is not None
    assert definition.create_input_schema["properties"]["size"]["type"] == "integer"
    assert definition.update_input_schema is not None
    assert definition.update_input_schema["required"] == ["tag"]


def test_typing_typeddict_on_311_is_explained() -> None:
    import sys
    from typing import TypedDict

    class Tag(TypedDict):
        tag: str

    _, example = make()
    if sys.version_info >= (3, 12):  # pragma: no cover - pydantic accepts it there
        example.create(lambda input: None)  # type: ignore[arg-type]
        return
    with pytest.raises(DefinitionError, match=r"typing_extensions\.TypedDict"):

        @example.create
        def create(input: Tag) -> tempest.Resource:
            raise NotImplementedError


def test_callable_objects_are_handlers() -> None:
    class Reader:
        async def __call__(self, resource: tempest.Resource) -> tempest.Resource:
            return resource

    _, example = make()
    reader = Reader()
    assert example.read(reader) is reader
    assert example._handlers["read"].is_async


def test_from_future_annotations_work() -> None:
    # This module itself uses `from __future__ import annotations`: all hints are strings.
    _, example = make()

    @example.update
    async def update(
        ctx: tempest.Context, resource: tempest.Resource, input: Color
    ) -> tempest.Resource:
        return resource

    assert example._handlers["update"].is_async
