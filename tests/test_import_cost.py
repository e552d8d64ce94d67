"""`import tempest_sdk` and `tempest-sdk --version`/`--help` load no wire model.

The wire models and the app model load pydantic's model machinery, several times the
cost of `import pydantic`; the namespaces export them lazily (PEP 562), and the names
still resolve to the very objects their modules define. `benchmarks/bench_import.py`
has the figures; these tests check what is loaded, not how long it takes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from types import ModuleType

import pytest

import tempest_sdk
import tempest_sdk.models

# The one `tempest_sdk.models` submodule that defines no pydantic model.
PYDANTIC_FREE = {"tempest_sdk.models._enums"}
WIRE_MODEL_MODULES = sorted(
    f"tempest_sdk.models.{info.name}"
    for info in pkgutil.iter_modules(tempest_sdk.models.__path__)
    if f"tempest_sdk.models.{info.name}" not in PYDANTIC_FREE
)
# Without it no pydantic model can be defined, let alone built.
PYDANTIC_MODELS = "pydantic.main"
LAZY_NAMESPACES = [tempest_sdk, tempest_sdk.models]


def loaded_after(code: str) -> list[str]:
    """The modules loaded in a fresh interpreter after `code` has run."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    modules: list[str] = json.loads(out.stdout.splitlines()[-1])
    return modules


def test_the_wire_model_modules_are_known() -> None:
    """Every `tempest_sdk.models` submodule but the pydantic-free ones defines wire models."""
    assert "tempest_sdk.models._tasks" in WIRE_MODEL_MODULES
    for name in [*WIRE_MODEL_MODULES, *PYDANTIC_FREE]:
        defined = [
            value
            for value in vars(importlib.import_module(name)).values()
            if isinstance(value, type)
            and issubclass(value, tempest_sdk.models.WireModel)
            and value.__module__ == name
        ]
        assert bool(defined) == (name not in PYDANTIC_FREE), name


def test_import_loads_no_wire_model() -> None:
    loaded = set(loaded_after("import tempest_sdk"))
    assert "tempest_sdk.models" in loaded  # the enums are there, eagerly
    assert sorted(loaded & {*WIRE_MODEL_MODULES, PYDANTIC_MODELS, "tempest_sdk._app"}) == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["serve", "--help"]])
def test_cli_version_and_help_load_no_wire_model(argv: list[str]) -> None:
    loaded = set(
        loaded_after(
            "from tempest_sdk._cli import main\n"
            "try:\n"
            f"    main({argv!r})\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
        )
    )
    assert "tempest_sdk._cli._main" in loaded
    assert sorted(loaded & {*WIRE_MODEL_MODULES, PYDANTIC_MODELS, "tempest_sdk._app"}) == []


def test_first_use_loads_the_models() -> None:
    loaded = set(loaded_after("from tempest_sdk import Resource"))
    assert {"tempest_sdk.models._resources", PYDANTIC_MODELS} <= loaded


def _defining_modules(namespace: ModuleType) -> list[ModuleType]:
    """The private modules a namespace re-exports from, by its `__init__`'s imports."""
    tree = ast.parse(inspect.getsource(namespace))
    sources = {
        "." * node.level + node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level and node.module
    }
    return [importlib.import_module(source, namespace.__name__) for source in sorted(sources)]


@pytest.mark.parametrize("namespace", LAZY_NAMESPACES, ids=lambda m: m.__name__)
def test_lazy_names_are_the_eager_objects(namespace: ModuleType) -> None:
    candidates: dict[str, list[object]] = {}
    for module in _defining_modules(namespace):
        for name in namespace.__all__:
            if hasattr(module, name):
                candidates.setdefault(name, []).append(getattr(module, name))
    assert sorted(candidates) == sorted(namespace.__all__)
    load = vars(namespace)["__getattr__"]
    lazy = 0
    for name, values in candidates.items():
        value = values[0]
        assert all(other is value for other in values), name
        assert getattr(namespace, name) is value, name
        try:
            loaded = load(name)
        except AttributeError:
            continue  # imported eagerly
        lazy += 1
        assert loaded is value, name
    assert lazy > 0


@pytest.mark.parametrize("namespace", LAZY_NAMESPACES, ids=lambda m: m.__name__)
def test_dir_lists_every_name_and_unknown_names_fail(namespace: ModuleType) -> None:
    assert set(namespace.__all__) <= set(dir(namespace))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        getattr(namespace, "Nope")  # noqa: B009


@pytest.mark.parametrize("namespace", LAZY_NAMESPACES, ids=lambda m: m.__name__)
def test_type_checkers_see_every_name(namespace: ModuleType) -> None:
    """Each exported name is imported in the `__init__`, eagerly or under TYPE_CHECKING."""
    tree = ast.parse(inspect.getsource(namespace))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert sorted(set(namespace.__all__) - imported) == []


def test_star_import_gives_every_name() -> None:
    names: dict[str, object] = {}
    exec("from tempest_sdk import *", names)
    assert set(tempest_sdk.__all__) <= names.keys()
    assert names["App"] is tempest_sdk.App
