"""The base of every wire model: tolerant on read, strict and minimal on write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Self

from pydantic import VERSION, BaseModel, ConfigDict

__all__ = ["WIRE_CONTEXT", "WireModel"]

# Passed as the validation context whenever a payload comes from the wire, so that
# models which are lenient when built in Python (a handler's `Resource`) are strict there.
WIRE_CONTEXT: Final[dict[str, Any]] = {"wire": True}

_THREAD_SAFE_REBUILD: Final = tuple(int(part) for part in VERSION.split(".")[:2]) >= (2, 14)


class WireModel(BaseModel):
    """A contract object.

    Unknown fields sent by the server are kept (and written back), so a newer control
    plane never breaks an older SDK. Writing emits every field that has a value, and
    never a `null` (a failed report's `response` is the one exception), so optional
    fields never go out as spurious `null`s and fields with defaults always go out.
    """

    # Built on first use, not when defined (`defer_build`): building the validators
    # and serializers of every wire model (and pydantic's plugin look-up, which loads
    # `importlib.metadata`, on the first) was most of what `from tempest_sdk import App`
    # cost beyond pydantic itself. Pydantic makes the first build thread-safe from 2.14
    # (a lock in `model_rebuild`); before it, concurrent first uses (sync handlers
    # building a `Resource` in threads) could race, so older versions build eagerly.
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, defer_build=_THREAD_SAFE_REBUILD
    )

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
