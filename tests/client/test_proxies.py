"""Proxies from the environment on every client flavour (sync, asyncio, asyncio on
uvloop, trio): the clients go through `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` and
skip it for `NO_PROXY` exactly as httpx does.

Against a real HTTPS (or HTTP) server and a recording forward proxy, both on 127.0.0.1.
httpx's own decision is not predicted here but observed: the same request made with a
plain `httpx.Client` / `httpx.AsyncClient` (default `trust_env`), and whether the proxy
saw it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tempest_sdk.client import APIConnectionError, APITimeoutError

from .servers import (
    FLAVOURS,
    ApiServer,
    Certificates,
    Proxy,
    call_once,
    refusing_port,
    run_on,
)

NEXT_PATH = "/api/v1/apps.operations.next"


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with Proxy() as proxy:
        yield proxy


def seen_by(proxy: Proxy) -> int:
    """How many requests or tunnels the proxy was asked for so far."""
    return len(proxy.connects) + len(proxy.forwarded)


def ours_uses_proxy(flavour: str, proxy: Proxy, server: ApiServer, **options: object) -> bool:
    """Makes a `next_task` call with a client of `flavour` and says whether it went
    through `proxy` (it must succeed either way)."""
    before = seen_by(proxy)
    result = call_once(flavour, "next_task", "helloworld", "v1", endpoint=server.url, **options)
    assert result is None  # the server's 204: no task
    return seen_by(proxy) > before


def httpx_uses_proxy(flavour: str, proxy: Proxy, url: str, certs: Certificates) -> bool:
    """Makes the same POST with plain httpx of the same flavour (sync or async, on the
    same event loop) and says whether it went through `proxy`."""
    before = seen_by(proxy)
    verify = certs.client_context()
    if flavour == "sync":
        with httpx.Client(verify=verify) as client:
            response = client.post(url, content=b"{}")
    else:

        async def scenario() -> httpx.Response:
            async with httpx.AsyncClient(verify=verify) as client:
                return await client.post(url, content=b"{}")

        response = run_on(flavour, scenario)
    assert response.status_code == 204
    return seen_by(proxy) > before


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_https_proxy_tunnels_the_call(flavour, certs, server, proxy, monkeypatch):
    """With `HTTPS_PROXY` set, a call to an https endpoint goes through a CONNECT tunnel
    to the endpoint's host and port, and TLS is still checked end to end."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)

    assert ours_uses_proxy(flavour, proxy, server, verify=str(certs.ca_file))

    assert proxy.connects == [f"127.0.0.1:{server.port}"]
    assert proxy.forwarded == []
    assert server.paths == [NEXT_PATH]


NO_PROXY_FORMS = [
    ("NO_PROXY", "127.0.0.1"),
    ("NO_PROXY", "*"),
    ("NO_PROXY", "example.test"),
    ("NO_PROXY", "127.0.0.1:{port}"),
    ("NO_PROXY", "127.0.0.1:1"),
    ("NO_PROXY", "localhost"),
    ("NO_PROXY", "127.0.0.0/8"),
    ("NO_PROXY", ".0.0.1"),
    ("NO_PROXY", "example.test, 127.0.0.1"),
    ("NO_PROXY", "https://127.0.0.1"),
    ("no_proxy", "127.0.0.1"),
    ("no_proxy", "example.test"),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("variable", "form"), NO_PROXY_FORMS)
def test_no_proxy_is_read_as_httpx_reads_it(
    flavour, variable, form, certs, server, proxy, monkeypatch
):
    """For each form of `NO_PROXY` (an IP, "*", another host, with a port, "localhost"
    for 127.0.0.1, a CIDR, a domain suffix, a list, with a scheme; and `no_proxy`), the
    client goes through the proxy exactly when plain httpx does."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv(variable, form.format(port=server.port))

    expected = httpx_uses_proxy(flavour, proxy, server.url + "/apps.operations.next", certs)
    ours = ours_uses_proxy(flavour, proxy, server, verify=str(certs.ca_file))

    assert ours == expected, f"NO_PROXY={form!r}: httpx proxied={expected}, ours={ours}"
    assert server.paths == [NEXT_PATH, NEXT_PATH]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_reference_is_not_vacuous(flavour, certs, server, proxy, monkeypatch):
    """The observation above can tell both answers apart: plain httpx goes through the
    proxy without NO_PROXY, and around it with NO_PROXY=127.0.0.1."""
    url = server.url + "/apps.operations.next"
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    assert httpx_uses_proxy(flavour, proxy, url, certs)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert not httpx_uses_proxy(flavour, proxy, url, certs)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("variable", ["https_proxy", "ALL_PROXY", "all_proxy"])
def test_other_proxy_variables_are_read_as_httpx_reads_them(
    flavour, variable, certs, server, proxy, monkeypatch
):
    """`https_proxy` and `ALL_PROXY` / `all_proxy` route an https call as they route
    plain httpx's."""
    monkeypatch.setenv(variable, proxy.url)

    expected = httpx_uses_proxy(flavour, proxy, server.url + "/apps.operations.next", certs)
    ours = ours_uses_proxy(flavour, proxy, server, verify=str(certs.ca_file))

    assert ours == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_trust_env_false_ignores_the_proxy(flavour, certs, server, proxy, monkeypatch):
    """`trust_env=False` connects straight to the endpoint whatever `HTTPS_PROXY` says."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("ALL_PROXY", proxy.url)

    assert not ours_uses_proxy(flavour, proxy, server, verify=str(certs.ca_file), trust_env=False)

    assert proxy.connects == []
    assert server.paths == [NEXT_PATH]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("no_proxy", [None, "127.0.0.1"])
def test_an_http_endpoint_goes_through_http_proxy_as_with_httpx(
    flavour, no_proxy, certs, proxy, monkeypatch
):
    """An http:// endpoint follows `HTTP_PROXY` (the request passed on in absolute
    form), and `NO_PROXY`, as plain httpx does."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)

    with ApiServer() as server:
        expected = httpx_uses_proxy(flavour, proxy, server.url + "/apps.operations.next", certs)
        ours = ours_uses_proxy(flavour, proxy, server)

    assert ours == expected
    assert expected == (no_proxy is None)
    if expected:
        assert proxy.forwarded == [server.url + "/apps.operations.next"] * 2
    assert server.paths == [NEXT_PATH, NEXT_PATH]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_proxy_that_refuses_is_a_connection_error(flavour, certs, server, monkeypatch):
    """A proxy that refuses connections makes the call fail with an `APIConnectionError`,
    not a timeout, and not through the proxy's back: nothing reaches the server."""
    with refusing_port() as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        with pytest.raises(APIConnectionError) as caught:
            call_once(
                flavour,
                "next_task",
                "helloworld",
                "v1",
                endpoint=server.url,
                verify=str(certs.ca_file),
                max_retries=0,
            )

    assert not isinstance(caught.value, APITimeoutError)
    assert server.paths == []
