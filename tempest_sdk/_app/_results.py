"""What list and health-check handlers return."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..models import HealthStatus, Resource

__all__ = ["Health", "Page"]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing: the resources, and the cursor of the next page.

    Args:
        resources: The resources of this page. `type` may be left empty (it is filled
            in); `external_id` may not.
        next: The cursor Tempest passes back to get the next page; `""` on the last one.
    """

    resources: Sequence[Resource] = field(default_factory=list)
    next: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    """The health of a resource type, as a health-check handler reports it.

    Example:
        `return tempest.Health.degraded("API answers slowly")`
    """

    status: HealthStatus
    message: str | None = None

    @classmethod
    def healthy(cls, message: str | None = None) -> Health:
        """Everything works."""
        return cls(HealthStatus.HEALTHY, message)

    @classmethod
    def degraded(cls, message: str) -> Health:
        """It works, but not well; say how."""
        return cls(HealthStatus.DEGRADED, message)

    @classmethod
    def disrupted(cls, message: str) -> Health:
        """It does not work; say why."""
        return cls(HealthStatus.DISRUPTED, message)
