"""Resources and their links."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, TypeAdapter, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from ._base import WireModel

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
from ._enums import LinkType

P = TypeVar("P")

__all__ = ["Link", "Links", "Resource"]


class Link(WireModel):
    """A titled link shown next to a resource or a resource type (contract: `LinksItem`)."""

    title: str
    url: str
    type: LinkType

    @classmethod
    def documentation(cls, url: str, title: str = "Documentation") -> Link:
        """A link to documentation."""
        return cls(title=title, url=url, type=LinkType.DOCUMENTATION)

    @classmethod
    def administration(cls, url: str, title: str = "Administration") -> Link:
        """A link to an administration page."""
        return cls(title=title, url=url, type=LinkType.ADMINISTRATION)

    @classmethod
    def support(cls, url: str, title: str = "Support") -> Link:
        """A link to support."""
        return cls(title=title, url=url, type=LinkType.SUPPORT)

    @classmethod
    def endpoint(cls, url: str, title: str = "Endpoint") -> Link:
        """A link to a service endpoint."""
        return cls(title=title, url=url, type=LinkType.ENDPOINT)

    @classmethod
    def external(cls, url: str, title: str) -> Link:
        """Any other link."""
        return cls(title=title, url=url, type=LinkType.EXTERNAL)


class Links(WireModel):
    """The wrapper object `{"links": [...]}` the contract uses wherever links appear."""

    links: list[Link] | None = None


class Resource(WireModel):
    """A resource instance: what tasks carry and what handlers return.

    `type`, `external_id` and `display_name` are required on the wire, and only
    enforced when a payload is read from it. A handler may leave them out (`""`):
    the report takes the task's resource's (`external_id` is the handler's to set in
    a create or a list).
    """

    _wire_required: ClassVar[tuple[str, ...]] = ("display_name", "external_id", "type")

    type: str = ""
    external_id: str = ""
    display_name: str = ""
    id: str | None = None
    name: str | None = None
    status: str | None = None
    external_url: str | None = None
    organization_id: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    synced_at: datetime | None = None
    deleted_at: datetime | None = None
    properties: dict[str, Any] | None = None
    links: Links | None = None

    if TYPE_CHECKING:
        # What type checkers see of the constructor, without pydantic's mypy plugin:
        # `properties=` takes the declared properties model (or a dataclass, or a
        # mapping) and `links=` a plain list, as the validators below accept; the
        # fields read back as declared above. tests/test_docs_samples.py holds it to the fields.
        def __init__(
            self,
            *,
            type: str = "",
            external_id: str = "",
            display_name: str = "",
            id: str | None = None,
            name: str | None = None,
            status: str | None = None,
            external_url: str | None = None,
            organization_id: str | None = None,
            created_by: str | None = None,
            created_at: datetime | None = None,
            updated_at: datetime | None = None,
            synced_at: datetime | None = None,
            deleted_at: datetime | None = None,
            properties: Mapping[str, Any] | BaseModel | DataclassInstance | None = None,
            links: Links | Sequence[Link] | None = None,
        ) -> None: ...

    def properties_as(self, model: builtins.type[P]) -> P:
        """The properties read as `model` (the type declared with `properties=`).

        Raises:
            ValueError: they do not match `model` (`pydantic.ValidationError`), or
                the resource has none.
        """
        if self.properties is None:
            raise ValueError(
                f"resource {self.external_id or self.type!r} has no properties to read as "
                f"{model.__name__}"
            )
        return TypeAdapter(model).validate_python(self.properties)

    def model_post_init(self, context: Any, /) -> None:
        # The wire check lives here, not in a `mode="before"` validator, which would
        # make pydantic build a dict of every resource read from JSON.
        if context and context.get("wire"):
            fields_set = self.__pydantic_fields_set__
            missing = [name for name in self._wire_required if name not in fields_set]
            if missing:
                raise ValidationError.from_exception_data(
                    type(self).__name__,
                    [
                        InitErrorDetails(
                            type=PydanticCustomError("missing", "Field required"),
                            loc=(name,),
                            input=self.__dict__,
                        )
                        for name in missing
                    ],
                )

    @field_validator("properties", mode="before")
    @classmethod
    def _properties_in(cls, value: Any) -> Any:
        # The declared properties model (or a dataclass) is accepted as it is given.
        return value if type(value) is dict or value is None else _properties_as_json(value)

    @field_validator("links", mode="before")
    @classmethod
    def _links_in(cls, value: Any) -> Any:
        # A plain list of links, for convenience; the wire shape is the wrapper object.
        return {"links": list(value)} if isinstance(value, list | tuple) else value


def _properties_as_json(value: Any) -> Any:
    # The declared properties model (or a dataclass) is written as JSON by alias, as
    # the properties schema derived from it expects.
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return TypeAdapter(type(value)).dump_python(value, mode="json", by_alias=True)
    return value
