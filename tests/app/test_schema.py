"""Schemas: derived from type hints (simplest draft-07 Tempest accepts), or raw and offline."""

from __future__ import annotations

import dataclasses
import enum
import json
import socket
import urllib.request
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

import jsonschema
import pytest
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

import tempest_sdk as tempest
from tempest_sdk import DefinitionError, JSONSchema

from .conftest import GO_FIXTURES, SHARED_GO_FIXTURES, go_fixture


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


class Everything(BaseModel):
    """Every shape a flat input can take."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="Name", description="What to call it.", examples=["box"])
    color: str = Field("red", min_length=1, max_length=20, pattern="^[a-z]+$")
    size: Size = Size.SMALL
    finish: Literal["matte", "glossy"] = "matte"
    kind: Literal["box"] = "box"
    count: int = Field(1, ge=1, lt=100)
    ratio: float = Field(0.5, gt=0, le=1, multiple_of=0.25)
    note: str | None = None
    owner: str | None
    tags: list[str] = Field(default_factory=list, max_length=5)
    flag: bool = False


def input_schema(model: Any) -> dict[str, Any]:
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties={"type": "object", "properties": {}})
    example.create(input_schema=model)(lambda: None)
    schema = example.definition().create_input_schema
    assert schema is not None
    return schema


def walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(walk(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(walk(item))
    return found


def test_derived_schema_is_simple_inline_draft_07() -> None:
    schema = input_schema(Everything)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["title"] == "Everything"
    assert schema["description"] == "Every shape a flat input can take."
    nodes = walk(schema)
    assert not any("$ref" in n or "$defs" in n or "definitions" in n for n in nodes)
    assert not any("anyOf" in n or "const" in n or "prefixItems" in n for n in nodes)
    jsonschema.Draft7Validator.check_schema(schema)
    props = schema["properties"]
    assert props["name"] == {
        "title": "Name",
        "description": "What to call it.",
        "examples": ["box"],
        "type": "string",
    }
    assert props["color"] == {
        "default": "red",
        "maxLength": 20,
        "minLength": 1,
        "pattern": "^[a-z]+$",
        "title": "Color",
        "type": "string",
    }
    assert props["size"]["enum"] == ["s", "l"]
    assert props["size"]["default"] == "s"
    assert props["finish"]["enum"] == ["matte", "glossy"]
    assert props["kind"]["enum"] == ["box"]
    assert (props["count"]["minimum"], props["count"]["exclusiveMaximum"]) == (1, 100)
    assert props["ratio"]["multipleOf"] == 0.25
    assert props["tags"] == {
        "items": {"type": "string"},
        "maxItems": 5,
        "title": "Tags",
        "type": "array",
    }


def test_optional_fields_are_their_plain_type_and_not_required() -> None:
    schema = input_schema(Everything)
    assert schema["properties"]["note"] == {"title": "Note", "type": "string"}
    assert schema["properties"]["owner"] == {"title": "Owner", "type": "string"}
    assert schema["required"] == ["name"]


def test_optional_enum_is_inlined_and_plain() -> None:
    class Pick(BaseModel):
        size: Size | None = None

    schema = input_schema(Pick)
    assert schema["properties"]["size"] == {"enum": ["s", "l"], "title": "Size", "type": "string"}
    assert "required" not in schema


def test_dataclass_and_typeddict_schemas() -> None:
    @dataclasses.dataclass
    class Point:
        """A point."""

        x: int
        y: int = 0

    class Label(TypedDict):
        text: str
        lang: NotRequired[str]

    assert input_schema(Point) == {
        "description": "A point.",
        "properties": {
            "x": {"title": "X", "type": "integer"},
            "y": {"default": 0, "title": "Y", "type": "integer"},
        },
        "required": ["x"],
        "title": "Point",
        "type": "object",
    }
    assert input_schema(Label)["required"] == ["text"]


def test_tuples_become_draft_07_item_arrays() -> None:
    class Pair(BaseModel):
        pair: tuple[int, str] = (1, "a")

    assert input_schema(Pair)["properties"]["pair"]["items"] == [
        {"type": "integer"},
        {"type": "string"},
    ]


def test_annotated_constraints_are_kept() -> None:
    class Limited(BaseModel):
        n: Annotated[int, Field(ge=0, le=9, description="A digit.")] = 0

    assert input_schema(Limited)["properties"]["n"] == {
        "default": 0,
        "description": "A digit.",
        "maximum": 9,
        "minimum": 0,
        "title": "N",
        "type": "integer",
    }


class Address(BaseModel):
    street: str


class WithNested(BaseModel):
    address: Address


class WithList(BaseModel):
    addresses: list[Address] = []


class WithMapping(BaseModel):
    labels: dict[str, str] = {}


class Node(BaseModel):
    children: list[Node] = []


@pytest.mark.parametrize(
    ("model", "field", "rule"),
    [
        (WithNested, "address", "is an object"),
        (WithList, "addresses", "is an array of objects"),
        (WithMapping, "labels", "is an object"),
    ],
)
def test_unflat_properties_fail_naming_field_and_rule(model: Any, field: str, rule: str) -> None:
    with pytest.raises(DefinitionError) as info:
        tempest.App("hello", "v1").resource("example", properties=model)
    message = str(info.value)
    assert message.startswith("app.resource('example'): properties field")
    assert f"field {field!r} {rule}" in message
    assert "flatten it into top-level fields" in message


def test_unflat_inputs_fail_like_the_go_sdk() -> None:
    """Go `ParseJSONSchema` applies the flat-properties rule to every schema, inputs too."""
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties={"type": "object"})
    with pytest.raises(DefinitionError, match="input field 'address' is an object"):

        @example.create
        def create(input: WithNested) -> tempest.Resource:
            raise NotImplementedError


def test_recursive_models_fail() -> None:
    with pytest.raises(DefinitionError, match="Node refers to itself"):
        input_schema(Node)


def test_union_of_models_fails() -> None:
    class Either(BaseModel):
        where: Address | int

    with pytest.raises(DefinitionError, match="field 'where' is an object"):
        input_schema(Either)


def test_a_model_that_pydantic_cannot_describe() -> None:
    class Weird(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        sock: socket.socket

    with pytest.raises(DefinitionError, match="cannot build a schema from"):
        input_schema(Weird)


def test_properties_use_serialization_mode() -> None:
    class Props(BaseModel):
        color: str = "red"
        size: Size = Size.SMALL

    app = tempest.App("hello", "v1")
    schema = app.resource("example", properties=Props).properties_schema
    assert schema == {
        "properties": {
            "color": {"default": "red", "title": "Color", "type": "string"},
            "size": {"default": "s", "enum": ["s", "l"], "title": "Size", "type": "string"},
        },
        "title": "Props",
        "type": "object",
    }


# -- raw schemas --------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a schema tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


FIXTURES = sorted(p.relative_to(GO_FIXTURES).as_posix() for p in GO_FIXTURES.rglob("*.json"))


def test_the_fixture_copies_match_the_shared_ones() -> None:
    if not SHARED_GO_FIXTURES.exists():  # pragma: no cover - shared/ sits beside the repo
        pytest.skip("shared/fixtures is not beside the repository")
    shared = sorted(
        p.relative_to(SHARED_GO_FIXTURES).as_posix() for p in SHARED_GO_FIXTURES.rglob("*.json")
    )
    assert shared == FIXTURES
    for name in FIXTURES:
        assert go_fixture(name) == json.loads((SHARED_GO_FIXTURES / name).read_text("utf-8"))


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("name", FIXTURES)
def test_every_go_fixture_loads_offline_and_reaches_the_payload_unchanged(name: str) -> None:
    """Go `ParseJSONSchema` fetches Tempest's meta-schemas over HTTPS; we load them offline."""
    raw = go_fixture(name)
    loaded = JSONSchema.from_file(GO_FIXTURES / name)
    assert loaded.schema == raw
    app = tempest.App("hello", "v1")
    example = app.resource("example", properties=loaded)
    example.create(input_schema=loaded)(lambda: None)
    example.update(input_schema=JSONSchema(raw))(lambda: None)
    example.action("act", input_schema=raw, output_schema=loaded)(lambda: None)
    definition = example.definition()
    assert definition.property_json_schema == raw
    assert definition.create_input_schema == raw
    assert definition.update_input_schema == raw
    assert definition.actions is not None
    assert definition.actions[0].input_json_schema == raw
    assert definition.actions[0].output_json_schema == raw
    # and they validate, still offline
    assert example._spec.properties is not None
    example._spec.properties.schema.problems(
        {"color": "red", "id": "1", "name": "n", "project_id": "p"}
    )


def test_relative_from_file_is_resolved_next_to_the_calling_module() -> None:
    loaded = JSONSchema.from_file(Path("go_examples") / "helloworld" / "input.json")
    assert loaded.schema == go_fixture("helloworld/input.json")
    assert "go_examples" in repr(loaded)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read"),
        ("{not json", "the file is not valid JSON"),
        ("[1, 2]", "a schema must be a JSON object"),
        ('{"type": 12}', "not a valid schema at type"),
        ('{"$schema": "https://example.com/my-dialect"}', "unknown $schema"),
        (
            '{"properties": {"a": {"$ref": "https://example.com/a.json"}}}',
            "points outside the schema",
        ),
        ('{"properties": {"a": {"$ref": "#/definitions/missing"}}}', "points at nothing"),
    ],
)
def test_unloadable_schema_files(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DefinitionError) as info:
        JSONSchema.from_file(path)
    assert problem in str(info.value)
    assert "schema.json" in str(info.value)


def test_raw_schema_must_be_plain_json() -> None:
    with pytest.raises(DefinitionError, match="not plain JSON"):
        JSONSchema({"default": object()})


def test_raw_properties_with_objects_arrays_of_objects_or_refs_fail() -> None:
    """Mirrors Go `validateJSONSchema`: objects, arrays of objects and $refs are rejected."""
    schema = {
        "type": "object",
        "definitions": {"x": {"type": "string"}},
        "properties": {
            "nested": {"type": "object"},
            "many": {"type": "array", "items": {"type": "object"}},
            "ref": {"$ref": "#/definitions/x"},
            "fine": {"type": "array", "items": {"type": "string"}},
        },
    }
    with pytest.raises(DefinitionError) as info:
        tempest.App("hello", "v1").resource("example", properties=schema)
    assert len(info.value.problems) == 3
    text = str(info.value)
    assert "field 'nested' is an object" in text
    assert "field 'many' is an array of objects" in text
    assert "field 'ref' is a $ref" in text


def test_properties_keyword_must_be_an_object() -> None:
    """Mirrors Go `errPropertiesShouldBeObject`."""
    with pytest.raises(DefinitionError, match="not a valid schema"):
        JSONSchema({"properties": ["a"]})


def test_raw_dict_and_jsonschema_are_interchangeable() -> None:
    raw = go_fixture("helloworld/properties.json")
    assert JSONSchema(raw) == JSONSchema(dict(raw))
    assert JSONSchema(raw) != JSONSchema({})
    assert "JSONSchema({" in repr(JSONSchema({}))
    app = tempest.App("hello", "v1")
    assert app.resource("a", properties=raw).properties_schema == raw


def test_other_drafts_are_honoured() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "dependentRequired": {"n": ["m"]},
    }
    app = tempest.App("hello", "v1")
    example = app.resource("a", properties=schema)
    assert example._spec.properties is not None
    problems = example._spec.properties.schema.problems({"n": 1})
    assert problems
    assert "'m' is a dependency of 'n'" in problems[0]
