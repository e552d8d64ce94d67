"""The base of every wire model: tolerant on read, strict and minimal on write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self

from pydantic import BaseModel, ConfigDict

__all__ = ["WIRE_CONTEXT", "WireModel"]

# Passed as the validation context whenever a payload comes from the wire, so that
# models which are lenient when built in Python (a handler's `Resource`) are strict there.
WIRE_CONTEXT: Final[dict[str, Any]] = {"wire": True}


class WireModel(BaseModel):
    """A contract object.

    Unknown fields sent by the server are kept (and written back), so a newer control
    plane never breaks an older SDK. Writing emits every field that has a value, and
    never a `null` (a failed report's `response` is the one exception), so optional
    fields never go out as spurious `null`s and fields with defaults always go out.
    """

    # Built when defined, not on first use (`defer_build`): `import tempest_sdk` loads no
    # model anyway; deferring would save 10-15 ms of the ~300 ms a first
    # `from tempest_sdk import App` costs (pydantic's own machinery is most of it); and
    # before pydantic 2.14 concurrent first uses (sync handlers building a `Resource` in
    # threads) race in `model_rebuild`.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # Fields the contract requires that have a default here: always written, since
    # their default is not None (the emulator's contract shapes read this).
    _always_written: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        required_with_default = {
            name
            for name, field in cls.model_fields.items()
            # A field written only when it says something (`exclude_if`) stays optional.
            if not field.is_required()
            and field.default is not None
            and getattr(field, "exclude_if", None) is None
        }
        cls._always_written = frozenset(required_with_default | set(cls._always_written))

    # Written without the None values rather than without the unset fields: the same
    # result for every field with a default, no per-instance bookkeeping of what was
    # set, and about a third less work for pydantic-core per report.

    @classmethod
    def from_wire(cls, data: bytes | str | Mapping[str, Any]) -> Self:
        """Read an object as it came over the wire (JSON text or its parsed dict).

        Stricter than building the model in Python: a resource read from the wire
        must carry every field the contract requires.

        Raises:
            pydantic.ValidationError: the data does not match the contract.
        """
        if isinstance(data, bytes | str):
            return cls.model_validate_json(data, context=WIRE_CONTEXT)
        return cls.model_validate(data, context=WIRE_CONTEXT)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict this object is sent as."""
        data: dict[str, Any] = self.__pydantic_serializer__.to_python(
            self, mode="json", by_alias=True, exclude_none=True
        )
        return data

    def to_json(self) -> bytes:
        """Return the JSON bytes this object is sent as."""
        # Straight to pydantic-core's bytes: `model_dump_json` decodes them to a str,
        # which would be encoded again.
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)
