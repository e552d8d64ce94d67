from tempest_sdk.emulator import Emulator

emulator = Emulator(seed=7)

emulator.inject("apps.operations.next", status=503, times=2)  # then recovers
# A 429 with the header Retry-After: 1
emulator.inject("apps.operations.next", status=429, retry_after=1.0)
emulator.inject("apps.version.connect", status=401)
emulator.inject("apps.operations.report", latency=0.5)  # slow answers
# The request is lost: the connection closes before it is handled.
emulator.inject("apps.operations.report", drop=True)
# The request is handled, then the answer is lost.
emulator.inject("apps.operations.report", drop="after")
emulator.inject("apps.operations.next", malformed="bad_json")
emulator.inject("apps.operations.next", malformed="unknown_request_type")
emulator.inject("apps.operations.next", malformed="missing_fields")
fault = emulator.inject("*", status=500, probability=0.1)
emulator.clear_faults()
