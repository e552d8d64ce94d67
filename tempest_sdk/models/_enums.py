"""The contract's enumerations. Each member is its wire string."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "EnvironmentVariableType",
    "HealthStatus",
    "LifecycleStage",
    "LinkType",
    "Operation",
    "OwnerType",
    "ReportStatus",
]


class Operation(StrEnum):
    """A resource operation carried by an `execute_resource_operation` task."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"


class ReportStatus(StrEnum):
    """The outcome of a task, or of any call, as the control plane names it."""

    OK = "ok"
    ERROR = "error"


class HealthStatus(StrEnum):
    """The health of one resource type."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DISRUPTED = "disrupted"


class LinkType(StrEnum):
    """What a link points at. Always lowercase on the wire."""

    DOCUMENTATION = "documentation"
    ADMINISTRATION = "administration"
    SUPPORT = "support"
    ENDPOINT = "endpoint"
    EXTERNAL = "external"


class OwnerType(StrEnum):
    """Whether an owner is a person or a team."""

    USER = "user"
    TEAM = "team"


class EnvironmentVariableType(StrEnum):
    """The kind of an environment variable. Every kind but `variable` is sensitive."""

    VARIABLE = "variable"
    SECRET = "secret"
    CERTIFICATE = "certificate"
    PRIVATE_KEY = "private_key"
    PUBLIC_KEY = "public_key"

    @property
    def is_sensitive(self) -> bool:
        """Whether values of this kind must never be logged or reported."""
        return self is not EnvironmentVariableType.VARIABLE


class LifecycleStage(StrEnum):
    """The lifecycle stages Tempest knows. The wire accepts any string."""

    CODE = "code"
    BUILD = "build"
    TEST = "test"
    RELEASE = "release"
    DEPLOY = "deploy"
    OPERATE = "operate"
    MONITOR = "monitor"
    OTHER = "other"
