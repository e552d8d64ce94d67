"""The base of every wire model: tolerant on read, strict and minimal on write."""

from __future__ import annotations

from typing import Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict

__all__ = ["WIRE_CONTEXT", "WireModel", "WritesDefaults"]

# Passed as the validation context whenever a payload comes from the wire, so that
# models which are lenient when built in Python (a handler's `Resource`) are strict there.
WIRE_CONTEXT: Final[dict[str, Any]] = {"wire": True}


class WireModel(BaseModel):
    """A contract object.

    Unknown fields sent by the server are kept (and written back), so a newer control
    plane never breaks an older SDK. Writing emits only what is set, plus every field
    the contract requires, so optional fields never go out as spurious `null`s.
    """

    # Built when defined, not on first use (`defer_build`): `import tempest_sdk` loads no
    # model anyway; deferring would save 10-15 ms of the ~300 ms a first
    # `from tempest_sdk import App` costs (pydantic's own machinery is most of it); and
    # before pydantic 2.14 concurrent first uses (sync handlers building a `Resource` in
    # threads) race in `model_rebuild`.
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # Fields the contract requires that have a default here: always written.
    _always_written: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        required_with_default = {
            name
            for name, field in cls.model_fields.items()
            if not field.is_required() and field.default is not None
        }
        cls._always_written = frozenset(required_with_default | set(cls._always_written))
        # Marking fields as set costs a Python call per instance, so only the models
        # that need it pay for it; forgetting the mixin would silently drop fields.
        if cls._always_written and not issubclass(cls, WritesDefaults):
            raise TypeError(
                f"{cls.__name__} has required fields with defaults "
                f"({', '.join(sorted(cls._always_written))}): derive it from WritesDefaults"
            )

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict this object is sent as."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> bytes:
        """Return the JSON bytes this object is sent as."""
        return self.model_dump_json(by_alias=True, exclude_unset=True).encode()


class WritesDefaults(WireModel):
    """A wire model with required fields that have defaults: they are always written."""

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.update(self._always_written)
