"""TLS on every client flavour (sync, asyncio, asyncio on uvloop, trio), against a real
HTTPS server on 127.0.0.1 with certificates made by trustme for the test.

Which CAs a client trusts (`verify=`, `TEMPEST_CA_BUNDLE`, `SSL_CERT_FILE` /
`SSL_CERT_DIR`, else httpx's default CAs), what a refused certificate becomes
(`APITLSError`, never retried, with a message saying what to check), and client
certificates (`cert=`, `TEMPEST_CLIENT_CERT` / `TEMPEST_CLIENT_KEY`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tempest_sdk.client import (
    APIConnectionError,
    APITimeoutError,
    APITLSError,
)
from tempest_sdk.models import StandardResponse

from .cases import HEALTH
from .servers import (
    FLAVOURS,
    ApiServer,
    Certificates,
    call_once,
    make_certificates,
)

HEALTH_PATH = "/api/v1/apps.versions.health"


@pytest.fixture
def mtls_server(certs: Certificates) -> Iterator[ApiServer]:
    """The API over HTTPS, refusing clients without a certificate from the test CA."""
    with ApiServer(certs.server_context(require_client_cert=True)) as server:
        yield server


def health(flavour: str, server: ApiServer, **options: Any) -> StandardResponse:
    """One `report_health` call to `server` with a client of `flavour`."""
    result = call_once(flavour, "report_health", HEALTH, endpoint=server.url, **options)
    assert isinstance(result, StandardResponse)
    return result


def assert_served(server: ApiServer) -> None:
    """The server answered exactly the one call, and nothing went wrong on its side."""
    assert server.paths == [HEALTH_PATH]
    assert server.errors == []


# -- whom the client trusts --------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("form", ["str", "path", "ssl-context", "directory"])
def test_a_ca_given_with_verify_is_trusted(flavour, form, certs, server):
    """`verify=` takes the CA as a file path (str or PathLike), a CA directory, or a ready
    `ssl.SSLContext`; the call then succeeds over TLS."""
    verify: Any = {
        "str": lambda: str(certs.ca_file),
        "path": lambda: certs.ca_file,
        "ssl-context": certs.client_context,
        "directory": lambda: str(certs.ca_dir),
    }[form]()

    result = health(flavour, server, verify=verify)

    assert result.status == "ok"
    assert_served(server)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("form", ["file", "directory"])
def test_tempest_ca_bundle_names_the_ca_to_trust(flavour, form, certs, server, monkeypatch):
    """Without `verify=`, `TEMPEST_CA_BUNDLE` (a CA file or directory) is trusted."""
    bundle = certs.ca_file if form == "file" else certs.ca_dir
    monkeypatch.setenv("TEMPEST_CA_BUNDLE", str(bundle))

    assert health(flavour, server).status == "ok"
    assert_served(server)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_verify_wins_over_tempest_ca_bundle(flavour, certs, server, monkeypatch, tmp_path):
    """An explicit `verify=` is used even when `TEMPEST_CA_BUNDLE` names another CA."""
    other = make_certificates(tmp_path)
    monkeypatch.setenv("TEMPEST_CA_BUNDLE", str(other.ca_file))

    assert health(flavour, server, verify=str(certs.ca_file)).status == "ok"
    assert_served(server)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_ssl_cert_file_and_dir_are_honoured_by_default(
    flavour, variable, certs, server, monkeypatch
):
    """With neither `verify=` nor `TEMPEST_CA_BUNDLE`, the default CAs are httpx's, which
    honour `SSL_CERT_FILE` and `SSL_CERT_DIR`."""
    location = certs.ca_file if variable == "SSL_CERT_FILE" else certs.ca_dir
    monkeypatch.setenv(variable, str(location))

    assert health(flavour, server).status == "ok"
    assert_served(server)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_verify_false_accepts_an_untrusted_server(flavour, server):
    """`verify=False` turns verification off: a server of an unknown CA is accepted."""
    assert health(flavour, server, verify=False).status == "ok"
    assert_served(server)


# -- refused certificates ----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_untrusted_ca_is_an_api_tls_error_not_retried(flavour, server):
    """A server whose CA is not among the default ones fails with `APITLSError` after a
    single attempt (retries would fail the same way), and the message says how to trust
    a private CA: `verify=` or `TEMPEST_CA_BUNDLE`."""
    with pytest.raises(APITLSError) as caught:
        health(flavour, server, max_retries=3)

    error = caught.value
    assert isinstance(error, APIConnectionError)
    assert not isinstance(error, APITimeoutError)
    assert error.attempts == 1
    assert error.endpoint == "/apps.versions.health"
    message = str(error)
    assert "CA" in message
    assert "verify=" in message
    assert "TEMPEST_CA_BUNDLE" in message
    assert server.paths == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_certificate_for_another_name_is_an_api_tls_error_not_retried(flavour, certs):
    """A certificate from a trusted CA but for another host name ("example.test", not
    127.0.0.1) fails with `APITLSError` after one attempt, and the message points at the
    host name."""
    with (
        ApiServer(certs.server_context(certs.wrong_name)) as server,
        pytest.raises(APITLSError) as caught,
    ):
        health(flavour, server, verify=str(certs.ca_file), max_retries=3)

    error = caught.value
    assert error.attempts == 1
    assert "host" in str(error).lower()
    assert server.paths == []


# -- client certificates -----------------------------------------------------------------------


# With TLS 1.3 the server refuses a missing client certificate after the client's side
# of the handshake, while the answer is read: on trio httpx's and httpcore's stream
# generators are then left to the garbage collector, which trio warns about (under
# load, now and then): encode/httpx#3686, encode/httpcore#1019, as in the hostile tests.
@pytest.mark.filterwarnings("ignore:Async generator 'httpx.:ResourceWarning")
@pytest.mark.filterwarnings("ignore:Async generator 'httpcore.:ResourceWarning")
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_server_that_wants_a_client_certificate_refuses_a_client_without_one(
    flavour, certs, mtls_server
):
    """Without `cert=` (nor `TEMPEST_CLIENT_CERT`), a server requiring a client
    certificate refuses the connection: an `APIConnectionError` (a TLS one or not, but
    never a timeout), and nothing is served."""
    with pytest.raises(APIConnectionError) as caught:
        health(flavour, mtls_server, verify=str(certs.ca_file), max_retries=0)

    assert not isinstance(caught.value, APITimeoutError)
    assert caught.value.attempts == 1
    assert mtls_server.paths == []


def client_subject(server: ApiServer) -> Any:
    """The names of the client certificate the server saw on its last request."""
    return server.client_certs[-1].get("subjectAltName")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("form", ["file-str", "file-path", "cert-and-key"])
def test_cert_presents_a_client_certificate(flavour, form, certs, mtls_server):
    """`cert=` takes one file holding the certificate and its key (str or PathLike), or
    a (certificate file, key file) pair; the server then accepts the client."""
    cert: Any = {
        "file-str": str(certs.client_file),
        "file-path": Path(certs.client_file),
        "cert-and-key": (str(certs.client_cert_file), str(certs.client_key_file)),
    }[form]

    result = health(flavour, mtls_server, verify=str(certs.ca_file), cert=cert)

    assert result.status == "ok"
    assert_served(mtls_server)
    assert client_subject(mtls_server) == (("DNS", "client.example.test"),)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("form", ["one-file", "cert-and-key"])
def test_tempest_client_cert_presents_a_client_certificate(
    flavour, form, certs, mtls_server, monkeypatch
):
    """Without `cert=`, `TEMPEST_CLIENT_CERT` (with the key in it, or in
    `TEMPEST_CLIENT_KEY`) is the client certificate; the CA comes from the environment
    too."""
    monkeypatch.setenv("TEMPEST_CA_BUNDLE", str(certs.ca_file))
    if form == "one-file":
        monkeypatch.setenv("TEMPEST_CLIENT_CERT", str(certs.client_file))
    else:
        monkeypatch.setenv("TEMPEST_CLIENT_CERT", str(certs.client_cert_file))
        monkeypatch.setenv("TEMPEST_CLIENT_KEY", str(certs.client_key_file))

    assert health(flavour, mtls_server).status == "ok"
    assert_served(mtls_server)
    assert client_subject(mtls_server) == (("DNS", "client.example.test"),)
