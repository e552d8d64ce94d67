"""The testing kit: exercise apps without Tempest.

- `invoke` / `ainvoke`: run one handler through `dispatch`, no network.
- `replay` / `areplay`: run the tasks of a record file (`serve --record`) again and
  compare their reports with the recorded ones.
- `Emulator`: a local control plane on loopback (see `tempest_sdk.emulator`).
- `exercise`: serve apps through the real runner against a fresh emulator and run every
  capability, or the steps you give.
- pytest fixtures `tempest_emulator`, `tempest_runner` (and `tempest_app`, to override),
  registered automatically.
"""

from typing import TYPE_CHECKING, Any

from ._exercise import Step as Step
from ._exercise import StepResult as StepResult
from ._exercise import default_steps as default_steps
from ._exercise import exercise as exercise
from ._exercise import load_steps as load_steps
from ._exercise import run_steps as run_steps
from ._invoke import ainvoke as ainvoke
from ._invoke import invoke as invoke
from ._replay import Comparison as Comparison
from ._replay import ReplayOptions as ReplayOptions
from ._replay import areplay as areplay
from ._replay import replay as replay
from ._samples import TaskOptions as TaskOptions
from ._samples import sample_input as sample_input
from ._samples import sample_task as sample_task

if TYPE_CHECKING:
    from ..emulator import Emulator as Emulator

__all__ = [
    "Comparison",
    "Emulator",
    "ReplayOptions",
    "Step",
    "StepResult",
    "TaskOptions",
    "ainvoke",
    "areplay",
    "default_steps",
    "exercise",
    "invoke",
    "load_steps",
    "replay",
    "run_steps",
    "sample_input",
    "sample_task",
]


def __getattr__(name: str) -> Any:
    # The emulator (HTTP server and all) loads only when a test asks for it.
    if name == "Emulator":
        from ..emulator import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
