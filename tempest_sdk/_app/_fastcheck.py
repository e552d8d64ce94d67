"""A conservative fast path for draft-07 validation of the flat schemas Tempest uses.

`compile_fast_check(schema)` turns a schema into a function that returns True only
when the `jsonschema` library would accept the instance too. False means "not sure":
the caller then asks `jsonschema` for the verdict and its errors. The common case (a
valid instance of a flat object schema) costs about a microsecond instead of the
fifteen or more that `jsonschema` spends on walking the schema.

Keywords whose exact semantics are not reproduced here (`$ref`, `oneOf`, `not`,
`if`, `patternProperties`, ...) make the whole schema ineligible (`None`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

__all__ = ["FastCheck", "compile_fast_check"]

FastCheck = Callable[[Any], bool]

# Draft-07 assertions this module does not reproduce: a schema using any is ineligible.
_UNSUPPORTED = frozenset(
    {
        "$ref",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "patternProperties",
        "propertyNames",
        "dependencies",
        "contains",
        "multipleOf",
        "additionalItems",
    }
)


class _Ineligible(Exception):
    pass


def compile_fast_check(schema: Any) -> FastCheck | None:
    """Compile `schema` into a conservative checker, or None if it is not eligible."""
    try:
        return _compile(schema)
    except _Ineligible:
        return None


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _is_number(x: Any) -> bool:
    return (type(x) is int or type(x) is float) and x == x


_TYPE_CHECKS: dict[str, FastCheck] = {
    "string": lambda x: type(x) is str,
    "boolean": lambda x: type(x) is bool,
    "null": lambda x: x is None,
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "number": lambda x: type(x) is int or type(x) is float,
    "integer": lambda x: type(x) is int or (type(x) is float and x.is_integer()),
}


def _same(a: Any, b: Any) -> bool:
    # jsonschema's equality: booleans are not numbers, 1 == 1.0; anything else not
    # simple goes to the slow path.
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return bool(a == b)
    if ta is str and tb is str:
        return bool(a == b)
    return a is None and b is None


def _compile(schema: Any) -> FastCheck:
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        raise _Ineligible
    if _UNSUPPORTED.intersection(schema):
        raise _Ineligible
    checks: list[FastCheck] = []

    kind = schema.get("type")
    if kind is not None:
        names = [kind] if isinstance(kind, str) else kind
        if not isinstance(names, list) or not all(n in _TYPE_CHECKS for n in names):
            raise _Ineligible
        type_checks = [_TYPE_CHECKS[n] for n in names]
        if len(type_checks) == 1:
            checks.append(type_checks[0])
        else:
            checks.append(lambda x: any(check(x) for check in type_checks))

    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list):
            raise _Ineligible
        checks.append(lambda x: any(_same(x, v) for v in values))
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda x: _same(x, const))

    _add_string_checks(schema, checks)
    _add_number_checks(schema, checks)
    _add_array_checks(schema, checks)
    _add_object_checks(schema, checks)

    for keyword, combine in (("anyOf", any), ("allOf", all)):
        if keyword in schema:
            branches = schema[keyword]
            if not isinstance(branches, list) or not branches:
                raise _Ineligible
            compiled = [_compile(branch) for branch in branches]
            checks.append(_combine(compiled, combine))

    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check_all(x: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a plain loop is faster than all() here
            if not check(x):
                return False
        return True

    return check_all


def _combine(checks: list[FastCheck], combine: Callable[[Any], bool]) -> FastCheck:
    return lambda x: combine(check(x) for check in checks)


def _bound(bound: Any, compare: Callable[[Any, Any], bool]) -> FastCheck:
    # NaN compares false with everything, so it falls to the slow path.
    return lambda x: (type(x) is not int and type(x) is not float) or bool(compare(x, bound))


def _int(schema: dict[str, Any], keyword: str) -> int | None:
    value = schema.get(keyword)
    if value is None:
        return None
    if type(value) is not int:
        raise _Ineligible
    return value


def _add_string_checks(schema: dict[str, Any], checks: list[FastCheck]) -> None:
    min_length, max_length = _int(schema, "minLength"), _int(schema, "maxLength")
    pattern = schema.get("pattern")
    if min_length is not None:
        checks.append(lambda x: type(x) is not str or len(x) >= min_length)
    if max_length is not None:
        checks.append(lambda x: type(x) is not str or len(x) <= max_length)
    if pattern is not None:
        if not isinstance(pattern, str):
            raise _Ineligible
        try:
            search = re.compile(pattern).search
        except re.error:
            raise _Ineligible from None
        checks.append(lambda x: type(x) is not str or search(x) is not None)


def _add_number_checks(schema: dict[str, Any], checks: list[FastCheck]) -> None:
    bounds: dict[str, Callable[[Any, Any], bool]] = {
        "minimum": operator.ge,
        "maximum": operator.le,
        "exclusiveMinimum": operator.gt,
        "exclusiveMaximum": operator.lt,
    }
    for keyword, compare in bounds.items():
        if keyword in schema:
            bound = schema[keyword]
            if not _is_number(bound):
                raise _Ineligible
            checks.append(_bound(bound, compare))


def _add_array_checks(schema: dict[str, Any], checks: list[FastCheck]) -> None:
    min_items, max_items = _int(schema, "minItems"), _int(schema, "maxItems")
    if min_items is not None:
        checks.append(lambda x: type(x) is not list or len(x) >= min_items)
    if max_items is not None:
        checks.append(lambda x: type(x) is not list or len(x) <= max_items)
    if schema.get("uniqueItems") is True:
        # Only strings are compared here; anything else takes the slow path.
        checks.append(
            lambda x: (
                type(x) is not list or (all(type(i) is str for i in x) and len(set(x)) == len(x))
            )
        )
    if "items" in schema:
        items = schema["items"]
        if isinstance(items, list):
            raise _Ineligible
        item_check = _compile(items)
        if item_check is not _always:
            checks.append(lambda x: type(x) is not list or all(item_check(i) for i in x))


# Keywords that only annotate: no validator asserts them (formats are not asserted).
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "$id",
        "$schema",
        "readOnly",
        "writeOnly",
        "deprecated",
        "format",
        "contentMediaType",
        "contentEncoding",
    }
)
_EXACT_TYPES: dict[str, type[Any]] = {"string": str, "boolean": bool, "null": type(None)}


def _exact_type(schema: Any) -> type[Any] | None:
    """The one Python type a schema like `{"type": "string", "title": ...}` admits, if so."""
    if not isinstance(schema, dict) or not isinstance(schema.get("type"), str):
        return None
    if any(key != "type" and key not in _ANNOTATIONS for key in schema):
        return None
    return _EXACT_TYPES.get(schema["type"])


def _add_object_checks(schema: dict[str, Any], checks: list[FastCheck]) -> None:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise _Ineligible
    if not all(isinstance(name, str) for name in required):
        raise _Ineligible
    min_props, max_props = _int(schema, "minProperties"), _int(schema, "maxProperties")
    if min_props is not None:
        checks.append(lambda x: type(x) is not dict or len(x) >= min_props)
    if max_props is not None:
        checks.append(lambda x: type(x) is not dict or len(x) <= max_props)
    if not properties and not required and additional is True:
        return
    # Simple fields are checked inline, without a call per field.
    exact: dict[str, type[Any]] = {}
    compiled: dict[str, FastCheck] = {}
    for name, sub in properties.items():
        kind = _exact_type(sub)
        if kind is not None:
            exact[name] = kind
        else:
            compiled[name] = _compile(sub)
    needed = tuple(required)
    closed = additional is False
    extra = None if additional is True or additional is False else _compile(additional)
    # An object schema's own type check is folded in: non-objects fail here.
    only_objects = schema.get("type") == "object"
    if only_objects:
        checks.remove(_TYPE_CHECKS["object"])

    def check_object(x: Any) -> bool:
        if type(x) is not dict:
            return not only_objects
        for name in needed:
            if name not in x:
                return False
        for name, value in x.items():
            kind = exact.get(name)
            if kind is not None:
                if type(value) is not kind:
                    return False
                continue
            check = compiled.get(name)
            if check is None:
                if closed or (extra is not None and not extra(value)):
                    return False
            elif not check(value):
                return False
        return True

    checks.append(check_object)
