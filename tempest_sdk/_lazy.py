"""Names a namespace exports but loads on first use (PEP 562), to keep its import cheap.

Importing pydantic's model machinery and defining the wire models costs several times
`import pydantic`; `import tempest_sdk` and `tempest-sdk --version` should not pay it.
A namespace lists where each lazy name lives, imports those names under
`TYPE_CHECKING` for type checkers, and hands this module's functions to Python:

    if not TYPE_CHECKING:
        __getattr__, __dir__ = lazy_exports(__name__, {"._app": ("App", ...)})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    module_name: str, sources: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of a namespace with lazy names.

    Args:
        module_name: the namespace's `__name__`; the module must be importing (or imported).
        sources: each module (relative to the namespace, like `"._app"`) and the names
            to take from it on first use.

    Returns:
        `__getattr__`, which imports a name's module, stores the name on the namespace
        (later look-ups find it there, as if imported eagerly) and returns it; and
        `__dir__`, which lists the lazy names beside the loaded ones.
    """
    module = sys.modules[module_name]
    where = {name: source for source, names in sources.items() for name in names}

    def __getattr__(name: str) -> object:
        source = where.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source, module_name), name)
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(vars(module).keys() | where.keys())

    return __getattr__, __dir__
