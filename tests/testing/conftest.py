from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def helloworld():
    return _load("_testing_helloworld", ROOT / "examples" / "helloworld" / "app.py").app


@pytest.fixture
def tempest_app(helloworld):
    """Overrides the plugin's fixture, as a user's conftest.py would."""
    return helloworld
