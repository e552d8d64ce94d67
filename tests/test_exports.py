"""The public surface of `tempest_sdk` is pinned: nothing leaks in or out by accident."""

from __future__ import annotations

import subprocess
import sys

import tempest_sdk

EXPECTED = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert tempest_sdk.__all__ == EXPECTED
    assert sorted(tempest_sdk.__all__) == tempest_sdk.__all__


def test_every_exported_name_exists_and_is_documented() -> None:
    for name in tempest_sdk.__all__:
        value = getattr(tempest_sdk, name)
        if name != "__version__":
            assert value.__doc__, f"{name} has no docstring"


def test_public_names_come_from_private_modules() -> None:
    for name in tempest_sdk.__all__:
        module = getattr(getattr(tempest_sdk, name), "__module__", "tempest_sdk")
        assert module.startswith("tempest_sdk"), (name, module)


def test_errors_share_the_root() -> None:
    for name in ("DefinitionError", "TaskError", "ResourceNotFoundError", "InvalidInputError"):
        assert issubclass(getattr(tempest_sdk, name), tempest_sdk.TempestError)
    for name in ("ResourceNotFoundError", "InvalidInputError", "ResourceConflictError"):
        assert issubclass(getattr(tempest_sdk, name), tempest_sdk.TaskError)


def test_import_stays_light() -> None:
    """`import tempest_sdk` loads neither jsonschema, anyio, httpx nor the edges."""
    code = (
        "import sys, tempest_sdk; "
        "heavy = ('jsonschema', 'anyio', 'httpx', 'tempest_sdk.runner', 'tempest_sdk.emulator', "
        "'tempest_sdk._cli', 'tempest_sdk.client'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
