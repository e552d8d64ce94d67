"""Serve the greetings app with JSON logs, probes and Prometheus metrics."""

import logging
import os

from app import app  # the lifespan guide's app.py, beside this file

import tempest_sdk as tempest


def main() -> None:
    # The application configures logging; the SDK only logs.
    handler = logging.StreamHandler()
    handler.setFormatter(tempest.JsonLogFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # /livez, /readyz and /metrics; in a container, listen on 0.0.0.0.
    address = os.environ.get("OPERATIONS_ADDRESS", "127.0.0.1:9000")
    app.run(operations_address=address)  # reads TEMPEST_TOKEN


if __name__ == "__main__":
    main()
