import logging

logging.basicConfig(level=logging.INFO)
# Every HTTP call the client makes:
logging.getLogger("tempest_sdk.client").setLevel(logging.DEBUG)
