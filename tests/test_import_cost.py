"""`from tempest_sdk import App`, `import tempest_sdk` and `tempest-sdk --version`/`--help`
load no wire model.

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


# What an app module's `from tempest_sdk import App` must leave for first use: pydantic
# itself, the wire models, schema derivation and dispatch (declaring a resource type
# loads them), and the client, the runner and the emulator with httpx, anyio and
# jsonschema (serving loads them).
NOT_FOR_APP = {
    "pydantic",
    "importlib.metadata",
    "tempest_sdk._app._dispatch",
    "tempest_sdk._app._resource",
    "tempest_sdk._app._derive",
    "tempest_sdk.client",
    "tempest_sdk.runner",
    "tempest_sdk.emulator",
    "httpx",
    "anyio",
    "jsonschema",
}


def test_from_tempest_sdk_import_app_loads_only_the_app_model() -> None:
    loaded = set(loaded_after("from tempest_sdk import App"))
    assert "tempest_sdk._app._app" in loaded
    assert sorted(loaded & {*WIRE_MODEL_MODULES, *NOT_FOR_APP}) == []


def test_declaring_after_the_lazy_import_works() -> None:
    """First use loads what was left out, from an app module's usual imports."""
    code = (
        "from pydantic import BaseModel\n"
        "from tempest_sdk import App, Context, Resource\n"
        "app = App('lazy-app', 'v1')\n"
        "class Props(BaseModel):\n"
        "    color: str\n"
        "thing = app.resource('thing', properties=Props)\n"
        "@thing.create\n"
        "async def create(ctx: Context, input: Props) -> Resource:\n"
        "    raise NotImplementedError\n"
        "payload = app.describe().to_wire()\n"
        "assert payload['resources'][0]['property_json_schema']['properties']['color']"
    )
    loaded = set(loaded_after(code))
    assert {"tempest_sdk._app._resource", "tempest_sdk.models._apps"} <= loaded


def test_wire_models_are_built_on_first_use_and_safely_from_threads() -> None:
    """Deferred (pydantic >= 2.14, whose first build takes a lock): threads that build
    the same model at once all get a whole, valid instance of it."""
    code = (
        "import threading\n"
        "import pydantic\n"
        "from tempest_sdk.models import Resource\n"
        "deferred = tuple(map(int, pydantic.VERSION.split('.')[:2])) >= (2, 14)\n"
        "assert Resource.__pydantic_complete__ is not deferred\n"
        "made, start = [], threading.Barrier(8)\n"
        "def build(n):\n"
        "    start.wait()\n"
        "    made.append(Resource(type='thing', external_id=f'e{n}', properties={'n': n}))\n"
        "threads = [threading.Thread(target=build, args=(n,)) for n in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "assert len(made) == 8 and Resource.__pydantic_complete__\n"
        "assert sorted(r.external_id for r in made) == [f'e{n}' for n in range(8)]\n"
        "assert all(type(r) is Resource and r.properties == {'n': int(r.external_id[1:])} "
        "for r in made)"
    )
    loaded_after(code)


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
