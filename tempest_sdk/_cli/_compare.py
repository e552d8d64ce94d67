"""What changed between two versions of an app, and which changes break users."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..models import ActionDefinition, ConnectRequest, Operation, ResourceDefinition

__all__ = ["Change", "compare"]

_CAPABILITIES = (*(str(operation) for operation in Operation), "list")
"""What a resource definition says it supports (`<capability>_supported`)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: where it is, what it is, and whether it breaks existing users."""

    where: str
    what: str
    breaking: bool

    def to_json(self) -> dict[str, Any]:
        """The change as JSON-ready data."""
        return {"where": self.where, "what": self.what, "breaking": self.breaking}


def compare(old: ConnectRequest, new: ConnectRequest) -> list[Change]:
    """Every difference between two connect payloads, resource types in order."""
    before = {r.type: r for r in old.resources}
    after = {r.type: r for r in new.resources}
    changes: list[Change] = []
    for name in before.keys() - after.keys():
        changes.append(Change(name, "resource type removed", breaking=True))
    for name in after.keys() - before.keys():
        changes.append(Change(name, "resource type added", breaking=False))
    for name in sorted(before.keys() & after.keys()):
        changes.extend(_compare_type(before[name], after[name]))
    return sorted(changes, key=lambda c: (c.where, not c.breaking, c.what))


def _compare_type(old: ResourceDefinition, new: ResourceDefinition) -> Iterator[Change]:
    where = old.type
    for flag in _CAPABILITIES:
        was, now = getattr(old, f"{flag}_supported"), getattr(new, f"{flag}_supported")
        if was and not now:
            yield Change(where, f"{flag} no longer supported", breaking=True)
        elif now and not was:
            yield Change(where, f"{flag} now supported", breaking=False)
    if old.healthcheck_supported != new.healthcheck_supported:
        state = "added" if new.healthcheck_supported else "removed"
        yield Change(where, f"health check {state}", breaking=False)
    for field in ("display_name", "description", "lifecycle_stage", "instructions_markdown"):
        if getattr(old, field) != getattr(new, field):
            yield Change(where, f"{field} changed", breaking=False)
    if old.links != new.links:
        yield Change(where, "links changed", breaking=False)
    yield from _compare_schema(
        f"{where}.properties", old.property_json_schema, new.property_json_schema, produced=True
    )
    yield from _compare_schema(
        f"{where}.create_input", old.create_input_schema, new.create_input_schema, produced=False
    )
    yield from _compare_schema(
        f"{where}.update_input", old.update_input_schema, new.update_input_schema, produced=False
    )
    yield from _compare_actions(where, old.actions or [], new.actions or [])


def _compare_actions(
    where: str, old: list[ActionDefinition], new: list[ActionDefinition]
) -> Iterator[Change]:
    before = {a.name: a for a in old}
    after = {a.name: a for a in new}
    for name in sorted(before.keys() - after.keys(), key=str):
        yield Change(f"{where}.actions.{name}", "action removed", breaking=True)
    for name in sorted(after.keys() - before.keys(), key=str):
        yield Change(f"{where}.actions.{name}", "action added", breaking=False)
    for name in sorted(before.keys() & after.keys(), key=str):
        a, b = before[name], after[name]
        base = f"{where}.actions.{name}"
        yield from _compare_schema(
            f"{base}.input", a.input_json_schema, b.input_json_schema, produced=False
        )
        yield from _compare_schema(
            f"{base}.output", a.output_json_schema, b.output_json_schema, produced=True
        )


def _compare_schema(
    where: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    produced: bool,
) -> Iterator[Change]:
    """Compare two object schemas field by field.

    `produced` schemas describe what the app returns (properties, action output): there a
    field that disappears or may now be missing breaks consumers. The others describe what
    callers send (inputs): there a field that callers must now send, or may no longer send,
    breaks them.
    """
    if old == new:
        return
    if old is None or new is None:
        yield Change(
            where, "schema added" if old is None else "schema removed", breaking=new is None
        )
        return
    old_props: Mapping[str, Any] = old.get("properties") or {}
    new_props: Mapping[str, Any] = new.get("properties") or {}
    old_req, new_req = set(old.get("required") or ()), set(new.get("required") or ())
    for name in sorted(old_props.keys() - new_props.keys()):
        yield Change(where, f"field {name!r} removed", breaking=True)
    for name in sorted(new_props.keys() - old_props.keys()):
        required = name in new_req
        yield Change(
            where,
            f"field {name!r} added{' (required)' if required else ''}",
            breaking=required and not produced,
        )
    for name in sorted(old_props.keys() & new_props.keys()):
        a, b = old_props[name], new_props[name]
        if _type_of(a) != _type_of(b):
            yield Change(
                where,
                f"field {name!r} changed type from {_type_of(a)} to {_type_of(b)}",
                breaking=True,
            )
        if name in new_req and name not in old_req:
            yield Change(where, f"field {name!r} is now required", breaking=not produced)
        elif name in old_req and name not in new_req:
            yield Change(where, f"field {name!r} is no longer required", breaking=produced)
        if "enum" in a or "enum" in b:
            lost = set(map(repr, a.get("enum") or [])) - set(map(repr, b.get("enum") or []))
            if lost and "enum" in b:
                yield Change(
                    where,
                    f"field {name!r} no longer allows {', '.join(sorted(lost))}",
                    breaking=not produced,
                )
    if old.get("additionalProperties", True) and new.get("additionalProperties", True) is False:
        yield Change(where, "extra fields are now rejected", breaking=not produced)


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(sorted(map(str, kind)))
    if kind is None:
        return "enum" if "enum" in schema else "any"
    return str(kind)
