"""The fast path of validation never accepts what `jsonschema` would reject."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempest_sdk._app._fastcheck import compile_fast_check

from .conftest import go_fixture

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5),
    st.sampled_from([float("nan"), float("inf"), 2.0, -0.0]),
    st.sampled_from(["", "a", "ab", "red", "Z9", "abc-def"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "color"]), inner, max_size=3),
    ),
    max_leaves=6,
)
types = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    keyword_values: dict[str, st.SearchStrategy[Any]] = {
        "type": st.one_of(types, st.lists(types, min_size=1, max_size=3, unique=True)),
        "enum": st.lists(json_scalars, min_size=1, max_size=3),
        "const": json_scalars,
        "minLength": st.integers(0, 3),
        "maxLength": st.integers(0, 3),
        "pattern": st.sampled_from(["^a", "b$", "[0-9]", "^[a-z]+$"]),
        "minimum": st.integers(-2, 2),
        "maximum": st.integers(-2, 2),
        "exclusiveMinimum": st.floats(-2, 2),
        "exclusiveMaximum": st.integers(-2, 2),
        "minItems": st.integers(0, 2),
        "maxItems": st.integers(0, 2),
        "uniqueItems": st.booleans(),
        "title": st.just("T"),
        "default": json_scalars,
        "format": st.sampled_from(["date-time", "email"]),
    }
    return st.dictionaries(st.sampled_from(sorted(keyword_values)), st.none(), max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({k: keyword_values[k] for k in keys})
    )


schemas = st.recursive(
    st.one_of(_leaf(), st.booleans()),
    lambda inner: st.one_of(
        st.builds(
            lambda base, props, required, additional: {
                **base,
                "properties": props,
                "required": required,
                "additionalProperties": additional,
            },
            _leaf(),
            st.dictionaries(st.sampled_from(["a", "b", "color"]), inner, max_size=3),
            st.lists(st.sampled_from(["a", "b", "color"]), max_size=2, unique=True),
            st.one_of(st.booleans(), inner),
        ),
        st.builds(lambda base, items: {**base, "items": items}, _leaf(), inner),
        st.builds(lambda branches: {"anyOf": branches}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda branches: {"allOf": branches}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=5,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas, instances=st.lists(json_values, min_size=1, max_size=5))
def test_fast_check_is_sound(schema: Any, instances: list[Any]) -> None:
    fast = compile_fast_check(schema)
    if fast is None:
        return
    validator = jsonschema.Draft7Validator(schema)
    for instance in instances:
        if fast(instance):
            assert validator.is_valid(instance), (schema, instance)


def test_fast_check_accepts_the_common_cases() -> None:
    properties = go_fixture("dashboards/properties.json")
    fast = compile_fast_check(properties)
    assert fast is not None
    assert fast({"id": "1", "name": "n", "project_id": "p"})
    assert fast({"id": "1", "name": "n", "project_id": "p", "description": "d"})
    assert not fast({"id": "1", "name": "n"})
    assert not fast({"id": "1", "name": "n", "project_id": "p", "x": 1})
    assert not fast([])
    helloworld = compile_fast_check(go_fixture("helloworld/input.json"))
    assert helloworld is not None
    assert helloworld({})
    assert helloworld({"color": "red"})


def test_ineligible_schemas() -> None:
    for schema in (
        {"$ref": "#/definitions/x"},
        {"oneOf": [{}]},
        {"not": {}},
        {"properties": {"a": {"if": {}}}},
        {"items": [{}]},
        {"type": "any"},
        {"multipleOf": 2},
        {"minLength": "3"},
        {"pattern": "("},
        [],
    ):
        assert compile_fast_check(schema) is None, schema
