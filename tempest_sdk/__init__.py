"""tempest_sdk: write Tempest private apps in Python.

Declare resource types with decorators on an `App`, and let the runner pull tasks
from the Tempest control plane, execute them and report the results.
"""

from typing import TYPE_CHECKING

from ._errors import TempestError as TempestError
from ._lazy import lazy_exports
from ._version import __version__ as __version__
from .models._enums import EnvironmentVariableType as EnvironmentVariableType
from .models._enums import HealthStatus as HealthStatus
from .models._enums import LifecycleStage as LifecycleStage
from .models._enums import LinkType as LinkType
from .models._enums import Operation as Operation

if TYPE_CHECKING:
    from ._app import App as App
    from ._app import Context as Context
    from ._app import DefinitionError as DefinitionError
    from ._app import Environment as Environment
    from ._app import Health as Health
    from ._app import InvalidInputError as InvalidInputError
    from ._app import JSONSchema as JSONSchema
    from ._app import Page as Page
    from ._app import Rate as Rate
    from ._app import ResourceConflictError as ResourceConflictError
    from ._app import ResourceNotFoundError as ResourceNotFoundError
    from ._app import ResourceType as ResourceType
    from ._app import SettingsError as SettingsError
    from ._app import TaskError as TaskError
    from ._app import load_settings as load_settings
    from ._logjson import JsonLogFormatter as JsonLogFormatter
    from ._secrets import MaskingFilter as MaskingFilter
    from ._stopping import Stopping as Stopping
    from .models import Link as Link
    from .models import Resource as Resource
    from .runner import InterceptedTask as InterceptedTask
    from .runner import Interceptor as Interceptor

__all__ = [
    "App",
    "Context",
    "DefinitionError",
    "Environment",
    "EnvironmentVariableType",
    "Health",
    "HealthStatus",
    "InterceptedTask",
    "Interceptor",
    "InvalidInputError",
    "JSONSchema",
    "JsonLogFormatter",
    "LifecycleStage",
    "Link",
    "LinkType",
    "MaskingFilter",
    "Operation",
    "Page",
    "Rate",
    "Resource",
    "ResourceConflictError",
    "ResourceNotFoundError",
    "ResourceType",
    "SettingsError",
    "Stopping",
    "TaskError",
    "TempestError",
    "__version__",
    "load_settings",
]

if not TYPE_CHECKING:
    # The app model and the wire models load pydantic's model machinery: on first use,
    # so that `import tempest_sdk` and `tempest-sdk --version` stay cheap.
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "._app": (
                "App",
                "Context",
                "DefinitionError",
                "Environment",
                "Health",
                "InvalidInputError",
                "JSONSchema",
                "Page",
                "Rate",
                "ResourceConflictError",
                "ResourceNotFoundError",
                "ResourceType",
                "SettingsError",
                "TaskError",
                "load_settings",
            ),
            "._logjson": ("JsonLogFormatter",),
            "._secrets": ("MaskingFilter",),
            "._stopping": ("Stopping",),
            ".models": ("Link", "Resource"),
            ".runner": ("InterceptedTask", "Interceptor"),
        },
    )
