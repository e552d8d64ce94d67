"""Reports: what an app sends to `apps.operations.report` once a task is done."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, PlainSerializer, SerializeAsAny
from pydantic_core import to_json

from ._base import WireModel
from ._enums import ReportStatus
from ._resources import Resource

__all__ = [
    "ExecuteResourceActionResponse",
    "ExecuteResourceOperationResponse",
    "ListResourcesResponse",
    "TaskReport",
    "TaskResponse",
]


class ExecuteResourceOperationResponse(WireModel):
    """The result of a create, read, update or delete: the resource as it now is."""

    response_type: Literal["execute_resource_operation"] = "execute_resource_operation"
    resource: Resource


class ExecuteResourceActionResponse(WireModel):
    """The result of an action: its output object."""

    response_type: Literal["execute_resource_action"] = "execute_resource_action"
    output: dict[str, Any]


class ListResourcesResponse(WireModel):
    """One page of resources; `next` is `""` on the last page.

    The contract uses this shape both for a list task's report and for `resources.list`.
    """

    response_type: Literal["list_resources"] = "list_resources"
    resources: list[Resource]
    next: str = ""


_R = TypeVar(
    "_R", ExecuteResourceOperationResponse, ExecuteResourceActionResponse, ListResourcesResponse
)

TaskResponse = Annotated[
    ExecuteResourceOperationResponse | ExecuteResourceActionResponse | ListResourcesResponse,
    Field(discriminator="response_type"),
]
"""The three kinds of task result, discriminated by `response_type`."""


def _empty(value: object) -> bool:
    return value == ""


class TaskReport(WireModel):
    """The outcome of a task (contract: `ReportResponse`).

    An error report is written as `{"task_id", "status": "error", "message",
    "response": null}`, like Tempest's own client.
    """

    _always_written: ClassVar[frozenset[str]] = frozenset({"response"})

    task_id: str
    # Written with `str` (C) rather than the enum's `value` property (Python).
    status: Annotated[ReportStatus, PlainSerializer(str, return_type=str, when_used="json")]
    # Always a str ("" when there is none), written only when it says something.
    message: str = Field("", exclude_if=_empty)
    # Serialized by the value's own class: the same output as by the union, for a
    # quarter less of pydantic-core's work on every report.
    response: SerializeAsAny[TaskResponse] | None = None

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict this report is sent as (`response` always in it)."""
        data = super().to_wire()
        data.setdefault("response", None)
        return data

    def to_json(self) -> bytes:
        """Return the JSON bytes this report is sent as (`response` always in them)."""
        if self.response is None:
            return to_json(self.to_wire())
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)

    @classmethod
    def ok(cls, task_id: str, response: TaskResponse, message: str = "") -> TaskReport:
        """A successful report carrying the task's result."""
        return cls(task_id=task_id, status=ReportStatus.OK, response=response, message=message)

    @classmethod
    def error(cls, task_id: str, message: str) -> TaskReport:
        """A failed report: `response` is `null` and `message` says why."""
        return cls(task_id=task_id, status=ReportStatus.ERROR, message=message, response=None)

    @classmethod
    def internal_error(cls, task_id: str, exc: BaseException) -> TaskReport:
        """The report of a task the SDK itself failed on (a bug of its own, not the
        handler's): names the exception's type only, since its text may hold a secret."""
        return cls.error(
            task_id,
            f"internal error in tempest_sdk while running the task ({type(exc).__name__}); "
            "see the app's logs",
        )

    @classmethod
    def of_resource(cls, task_id: str, resource: Resource) -> TaskReport:
        """The report of a successful create, read, update or delete."""
        response = {"response_type": "execute_resource_operation", "resource": resource}
        return _ok(task_id, response)

    @classmethod
    def of_page(cls, task_id: str, resources: list[Resource], next: str = "") -> TaskReport:
        """The report of a listed page; `next` is the cursor of the next page, or `""`."""
        response = {"response_type": "list_resources", "resources": resources, "next": next}
        return _ok(task_id, response)

    @classmethod
    def of_output(cls, task_id: str, output: dict[str, Any]) -> TaskReport:
        """The report of an action with its output."""
        return _ok(task_id, {"response_type": "execute_resource_action", "output": output})

    # Typed views of the result, for tests and tools: each says what it got instead.

    @property
    def resource(self) -> Resource:
        """The resource of a successful create, read, update or delete.

        Raises:
            ValueError: the report is an error, or not an operation's.
        """
        return self._response(ExecuteResourceOperationResponse, "an operation").resource

    @property
    def resources(self) -> list[Resource]:
        """The page of resources of a successful list.

        Raises:
            ValueError: the report is an error, or not a list's.
        """
        return self._response(ListResourcesResponse, "a list").resources

    @property
    def next_cursor(self) -> str:
        """The cursor of the page after a successful list's (`""` after the last page).

        Raises:
            ValueError: the report is an error, or not a list's.
        """
        return self._response(ListResourcesResponse, "a list").next

    @property
    def text(self) -> str:
        """The report as sent, as JSON text (`to_json()` gives the bytes)."""
        return self.to_json().decode()

    @property
    def output(self) -> dict[str, Any]:
        """The output of a successful action.

        Raises:
            ValueError: the report is an error, or not an action's.
        """
        return self._response(ExecuteResourceActionResponse, "an action").output

    def _response(self, kind: type[_R], what: str) -> _R:
        if self.status is not ReportStatus.OK or self.response is None:
            raise ValueError(f"task {self.task_id} failed: {self.message}")
        if not isinstance(self.response, kind):
            got = self.response.response_type
            raise ValueError(f"task {self.task_id} is not {what}'s: its response is {got}")
        return self.response


# One call into pydantic-core for a report and its response (a resource or resources
# given as instances are taken as they are): about a third of the work of building both
# in Python, on every task. Looked up on use: the model is built on first use.


def _ok(task_id: str, response: dict[str, Any]) -> TaskReport:
    report: TaskReport = TaskReport.__pydantic_validator__.validate_python(
        {"task_id": task_id, "status": "ok", "response": response}
    )
    return report
