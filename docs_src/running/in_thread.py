from tempest_sdk.runner import Runner

from .tempest_app import app


def run_my_synchronous_program() -> None:
    """Stands for the program's own work."""
    print("working")


# Its own event loop, in its own thread; returns once the runner is ready.
handle = Runner(app).start_in_thread()
try:
    run_my_synchronous_program()
finally:
    handle.stop()  # graceful; blocks until the thread ended
