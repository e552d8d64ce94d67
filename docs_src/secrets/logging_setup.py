import logging

import tempest_sdk


def configure_logging() -> None:
    """Text logs on stderr, secrets masked in every logger's records."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    # On the handler, not a logger: it sees every logger's records,
    # from every thread.
    handler.addFilter(tempest_sdk.MaskingFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
