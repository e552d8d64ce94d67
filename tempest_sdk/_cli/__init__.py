"""The `tempest-sdk` command line (loaded only when it runs)."""

from ._main import main as main

__all__ = ["main"]
