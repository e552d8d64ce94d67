import time
from typing import Any
from urllib.parse import quote

import httpx

from tempest_sdk.emulator import list_request


def enqueue_and_wait(
    url: str, token: str, timeout: float = 60.0
) -> dict[str, Any]:
    """Enqueue a list task at `url`, wait for its report and return it."""
    # The admin endpoint is at the root.
    root = httpx.URL(url).copy_with(path="/")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=root, headers=headers) as http:
        body = {
            "app_id": "helloworld",
            "version": "v1",
            "task": list_request("example"),
        }
        posted = http.post("/_emulator/tasks", json=body)
        posted.raise_for_status()
        task_id = posted.json()["task_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = f"/_emulator/tasks/{quote(task_id, safe='')}"
            status = http.get(url).json()
            if status["state"] == "reported":
                report: dict[str, Any] = status["reports"][0]
                return report
            time.sleep(0.2)
    raise TimeoutError(f"task {task_id} was not reported within {timeout} s")
