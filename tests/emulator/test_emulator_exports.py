"""The public surface of `tempest_sdk.emulator`, pinned; and it stays out of a plain import."""

from __future__ import annotations

import subprocess
import sys

import tempest_sdk.emulator


def test_public_names():
    assert tempest_sdk.emulator.__all__ == [
        "DEFAULT_PROJECT",
        "DEFAULT_TOKEN",
        "ENDPOINTS",
        "Answer",
        "DropWhen",
        "Emulator",
        "EmulatorTransport",
        "EnvironmentInput",
        "Fault",
        "MalformedKind",
        "ResourceTaskOptions",
        "Violation",
        "action_request",
        "default_environment",
        "default_metadata",
        "environment_of",
        "list_request",
        "main",
        "next_answer",
        "operation_request",
        "resource_request",
    ]
    for name in tempest_sdk.emulator.__all__:
        assert getattr(tempest_sdk.emulator, name) is not None


def test_every_contract_endpoint_is_served():
    assert set(tempest_sdk.emulator.ENDPOINTS) == {
        "apps.version.connect",
        "apps.operations.next",
        "apps.operations.report",
        "apps.versions.health",
        "resources.get",
        "resources.list",
        "projects.get",
        "projects.list",
        "recipes.get",
        "recipes.list",
    }


def test_importing_the_sdk_does_not_import_the_emulator():
    code = "import sys, tempest_sdk; print('tempest_sdk.emulator' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert out.stdout.strip() == "False"
