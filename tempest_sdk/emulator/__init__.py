"""A local emulator of the Tempest control plane, for developing and testing apps.

`Emulator` speaks the Private Apps contract over a real HTTP server on loopback
(`serve_in_thread()`, `serve()`) or in process through an httpx transport
(`transport()`), checks every request body, queues and leases tasks, records what
apps send and injects faults. `main` runs it standalone (`tempest-sdk emulator`).
"""

from ._cli import main as main
from ._core import ENDPOINTS as ENDPOINTS
from ._core import Answer as Answer
from ._core import Violation as Violation
from ._emulator import DEFAULT_TOKEN as DEFAULT_TOKEN
from ._emulator import Emulator as Emulator
from ._faults import DropWhen as DropWhen
from ._faults import Fault as Fault
from ._faults import MalformedKind as MalformedKind
from ._transport import EmulatorTransport as EmulatorTransport

__all__ = [
    "DEFAULT_TOKEN",
    "ENDPOINTS",
    "Answer",
    "DropWhen",
    "Emulator",
    "EmulatorTransport",
    "Fault",
    "MalformedKind",
    "Violation",
    "main",
]
