"""A local emulator of the Tempest control plane, for developing and testing apps.

`Emulator` speaks the Private Apps contract over a real HTTP server on loopback
(`serve_in_thread()`, `serve()`) or in process through an httpx transport
(`transport()`), checks every request body, queues and leases tasks, records what
apps send and injects faults. `main` runs it standalone (`tempest-sdk emulator`).

The task builders (`operation_request`, `action_request`, `list_request`,
`next_answer`, with `default_metadata` and `default_environment`) make tasks shaped
as the control plane sends them, for the emulator or for direct `dispatch`. Every
builder and `enqueue_*` helper takes the resource type first, then the operation or
action.
"""

from ._answer import Answer as Answer
from ._cli import main as main
from ._core import ENDPOINTS as ENDPOINTS
from ._core import Violation as Violation
from ._emulator import DEFAULT_TOKEN as DEFAULT_TOKEN
from ._emulator import Emulator as Emulator
from ._faults import DropWhen as DropWhen
from ._faults import Fault as Fault
from ._faults import MalformedKind as MalformedKind
from ._tasks import DEFAULT_PROJECT as DEFAULT_PROJECT
from ._tasks import EnvironmentInput as EnvironmentInput
from ._tasks import ResourceTaskOptions as ResourceTaskOptions
from ._tasks import action_request as action_request
from ._tasks import default_environment as default_environment
from ._tasks import default_metadata as default_metadata
from ._tasks import environment_of as environment_of
from ._tasks import list_request as list_request
from ._tasks import next_answer as next_answer
from ._tasks import operation_request as operation_request
from ._tasks import resource_request as resource_request
from ._transport import EmulatorTransport as EmulatorTransport

__all__ = [
    "DEFAULT_PROJECT",
    "DEFAULT_TOKEN",
    "ENDPOINTS",
    "Answer",
    "DropWhen",
    "Emulator",
    "EmulatorTransport",
    "EnvironmentInput",
    "Fault",
    "MalformedKind",
    "ResourceTaskOptions",
    "Violation",
    "action_request",
    "default_environment",
    "default_metadata",
    "environment_of",
    "list_request",
    "main",
    "next_answer",
    "operation_request",
    "resource_request",
]
