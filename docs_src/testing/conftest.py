import pytest
from my_app.app import app


@pytest.fixture
def tempest_app():
    return app


@pytest.fixture
def anyio_backend():
    return "asyncio"
