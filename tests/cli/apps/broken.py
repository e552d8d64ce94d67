"""An app module that fails when imported, as user code sometimes does."""

import tempest_sdk as tempest

app = tempest.App("broken", "v1")


def _load_settings() -> dict[str, str]:
    raise KeyError("SHOP_DATABASE_URL")


settings = _load_settings()
