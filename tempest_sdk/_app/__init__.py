"""The app model: declaring resource types and handlers, describing, dispatching."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
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

if not TYPE_CHECKING:
    # Loaded on first use, each from its own module: `App` alone loads no wire model.
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".._limits": ("Rate",),
            "._app": ("App",),
            "._context": ("Context", "Environment"),
            "._errors": (
                "DefinitionError",
                "InvalidInputError",
                "ResourceConflictError",
                "ResourceNotFoundError",
                "TaskError",
            ),
            "._resource": ("ResourceType",),
            "._results": ("Health", "Page"),
            "._schema": ("JSONSchema",),
            "._settings": ("SettingsError", "load_settings"),
        },
    )
