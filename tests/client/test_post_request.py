"""`post_request` builds the request `httpx.Request(..., content=...)` builds, cheaper."""

from __future__ import annotations

import httpx
import pytest

from tempest_sdk.client._http import post_request

HEADERS = httpx.Headers(
    {
        "Authorization": "Bearer tok-123",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "tempest-sdk/test",
    }
)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8123/api/v1/apps.operations.next", "https://tempest.example/a/b"]
)
@pytest.mark.parametrize("body", [b"", b'{"task_id":"t-1"}', "ünïcode".encode() * 100])
def test_the_same_request_as_httpx_builds_from_content(url: str, body: bytes) -> None:
    extensions: dict[str, object] = {"timeout": {"connect": 1.0, "read": 2.0}}
    ours = post_request(httpx.URL(url), HEADERS, body, extensions)
    theirs = httpx.Request(
        "POST", httpx.URL(url), headers=HEADERS, content=body, extensions=extensions
    )
    assert (ours.method, ours.url) == (theirs.method, theirs.url)
    assert sorted(ours.headers.multi_items()) == sorted(theirs.headers.multi_items())
    assert ours.content == theirs.content == body
    assert ours.extensions == theirs.extensions
    assert HEADERS.get("content-length") is None  # the shared headers are not changed
