"""tempest_sdk: write Tempest private apps in Python.

Declare resource types with decorators on an `App`, and let the runner pull tasks
from the Tempest control plane, execute them and report the results.
"""

from ._errors import TempestError as TempestError
from ._version import __version__ as __version__
from .models import EnvironmentVariableType as EnvironmentVariableType
from .models import HealthStatus as HealthStatus
from .models import LifecycleStage as LifecycleStage
from .models import Link as Link
from .models import LinkType as LinkType
from .models import Operation as Operation
from .models import Resource as Resource

__all__ = [
    "EnvironmentVariableType",
    "HealthStatus",
    "LifecycleStage",
    "Link",
    "LinkType",
    "Operation",
    "Resource",
    "TempestError",
    "__version__",
]
