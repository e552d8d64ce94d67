"""Wire models: every object of the Tempest Private Apps contract, as pydantic models.

They are the only place in the SDK that knows the contract's field names. Reading is
tolerant (fields a newer control plane adds are kept), writing is strict (`to_wire()`
and `to_json()` emit every field that has a value, never a `null` but a failed
report's `response`).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._enums import EnvironmentVariableType as EnvironmentVariableType
from ._enums import HealthStatus as HealthStatus
from ._enums import LifecycleStage as LifecycleStage
from ._enums import LinkType as LinkType
from ._enums import Operation as Operation
from ._enums import OwnerType as OwnerType
from ._enums import ReportStatus as ReportStatus

if TYPE_CHECKING:
    from ._api import ErrorResponse as ErrorResponse
    from ._api import ListProjectsResponse as ListProjectsResponse
    from ._api import ListRecipesResponse as ListRecipesResponse
    from ._api import Metadata as Metadata
    from ._api import Project as Project
    from ._api import Recipe as Recipe
    from ._api import RequestObjectById as RequestObjectById
    from ._api import RequestPaginatedObjects as RequestPaginatedObjects
    from ._api import StandardResponse as StandardResponse
    from ._apps import ActionDefinition as ActionDefinition
    from ._apps import AppHealthReportItem as AppHealthReportItem
    from ._apps import AppHealthReportRequest as AppHealthReportRequest
    from ._apps import AppRequest as AppRequest
    from ._apps import ConnectRequest as ConnectRequest
    from ._apps import ResourceDefinition as ResourceDefinition
    from ._base import WireModel as WireModel
    from ._reports import ExecuteResourceActionResponse as ExecuteResourceActionResponse
    from ._reports import ExecuteResourceOperationResponse as ExecuteResourceOperationResponse
    from ._reports import ListResourcesResponse as ListResourcesResponse
    from ._reports import TaskReport as TaskReport
    from ._reports import TaskResponse as TaskResponse
    from ._resources import Link as Link
    from ._resources import Links as Links
    from ._resources import Resource as Resource
    from ._tasks import EnvironmentVariable as EnvironmentVariable
    from ._tasks import ExecuteResourceActionRequest as ExecuteResourceActionRequest
    from ._tasks import ExecuteResourceOperationRequest as ExecuteResourceOperationRequest
    from ._tasks import ListResourcesRequest as ListResourcesRequest
    from ._tasks import MalformedTaskError as MalformedTaskError
    from ._tasks import Owner as Owner
    from ._tasks import Task as Task
    from ._tasks import TaskKind as TaskKind
    from ._tasks import TaskMetadata as TaskMetadata
    from ._tasks import TaskRequest as TaskRequest
    from ._tasks import TaskSubject as TaskSubject
    from ._tasks import UnknownTaskTypeError as UnknownTaskTypeError
    from ._tasks import describe_errors as describe_errors
    from ._tasks import parse_task as parse_task
    from ._tasks import subject_of as subject_of

__all__ = [
    "ActionDefinition",
    "AppHealthReportItem",
    "AppHealthReportRequest",
    "AppRequest",
    "ConnectRequest",
    "EnvironmentVariable",
    "EnvironmentVariableType",
    "ErrorResponse",
    "ExecuteResourceActionRequest",
    "ExecuteResourceActionResponse",
    "ExecuteResourceOperationRequest",
    "ExecuteResourceOperationResponse",
    "HealthStatus",
    "LifecycleStage",
    "Link",
    "LinkType",
    "Links",
    "ListProjectsResponse",
    "ListRecipesResponse",
    "ListResourcesRequest",
    "ListResourcesResponse",
    "MalformedTaskError",
    "Metadata",
    "Operation",
    "Owner",
    "OwnerType",
    "Project",
    "Recipe",
    "ReportStatus",
    "RequestObjectById",
    "RequestPaginatedObjects",
    "Resource",
    "ResourceDefinition",
    "StandardResponse",
    "Task",
    "TaskKind",
    "TaskMetadata",
    "TaskReport",
    "TaskRequest",
    "TaskResponse",
    "TaskSubject",
    "UnknownTaskTypeError",
    "WireModel",
    "describe_errors",
    "parse_task",
    "subject_of",
]

if not TYPE_CHECKING:
    # Defining the models loads pydantic's model machinery: on first use, so that
    # `import tempest_sdk` and `tempest-sdk --version` stay cheap.
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "._api": (
                "ErrorResponse",
                "ListProjectsResponse",
                "ListRecipesResponse",
                "Metadata",
                "Project",
                "Recipe",
                "RequestObjectById",
                "RequestPaginatedObjects",
                "StandardResponse",
            ),
            "._apps": (
                "ActionDefinition",
                "AppHealthReportItem",
                "AppHealthReportRequest",
                "AppRequest",
                "ConnectRequest",
                "ResourceDefinition",
            ),
            "._base": ("WireModel",),
            "._reports": (
                "ExecuteResourceActionResponse",
                "ExecuteResourceOperationResponse",
                "ListResourcesResponse",
                "TaskReport",
                "TaskResponse",
            ),
            "._resources": ("Link", "Links", "Resource"),
            "._tasks": (
                "EnvironmentVariable",
                "ExecuteResourceActionRequest",
                "ExecuteResourceOperationRequest",
                "ListResourcesRequest",
                "MalformedTaskError",
                "Owner",
                "Task",
                "TaskKind",
                "TaskMetadata",
                "TaskRequest",
                "TaskSubject",
                "UnknownTaskTypeError",
                "describe_errors",
                "parse_task",
                "subject_of",
            ),
        },
    )
