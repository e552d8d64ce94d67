"""The app model: declaring resource types and handlers, describing, dispatching."""

from .._limits import Rate as Rate
from ._app import App as App
from ._context import Context as Context
from ._context import Environment as Environment
from ._errors import DefinitionError as DefinitionError
from ._errors import InvalidInputError as InvalidInputError
from ._errors import ResourceConflictError as ResourceConflictError
from ._errors import ResourceNotFoundError as ResourceNotFoundError
from ._errors import TaskError as TaskError
from ._resource import ResourceType as ResourceType
from ._results import Health as Health
from ._results import Page as Page
from ._schema import JSONSchema as JSONSchema
from ._settings import SettingsError as SettingsError
from ._settings import load_settings as load_settings
