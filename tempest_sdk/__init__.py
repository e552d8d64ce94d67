"""tempest_sdk: write Tempest private apps in Python.

Declare resource types with decorators on an `App`, and let the runner pull tasks
from the Tempest control plane, execute them and report the results.
"""

from ._app import App as App
from ._app import Context as Context
from ._app import DefinitionError as DefinitionError
from ._app import Environment as Environment
from ._app import Health as Health
from ._app import InvalidInputError as InvalidInputError
from ._app import JSONSchema as JSONSchema
from ._app import Page as Page
from ._app import ResourceNotFoundError as ResourceNotFoundError
from ._app import ResourceType as ResourceType
from ._app import TaskError as TaskError
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
    "App",
    "Context",
    "DefinitionError",
    "Environment",
    "EnvironmentVariableType",
    "Health",
    "HealthStatus",
    "InvalidInputError",
    "JSONSchema",
    "LifecycleStage",
    "Link",
    "LinkType",
    "Operation",
    "Page",
    "Resource",
    "ResourceNotFoundError",
    "ResourceType",
    "TaskError",
    "TempestError",
    "__version__",
]
