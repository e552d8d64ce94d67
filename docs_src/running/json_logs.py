import logging

import tempest_sdk


def configure_logging() -> None:
    """JSON logs on stderr, for a program that configures logging itself."""
    handler = logging.StreamHandler()
    handler.setFormatter(tempest_sdk.JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # httpx logs one line per poll at INFO otherwise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
