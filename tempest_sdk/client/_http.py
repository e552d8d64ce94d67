"""Where the client meets its HTTP libraries: which httpx client to build, TLS settings,
transport errors, and answers read with a size cap.

The protocol work (framing, parsing, pooling, proxies, TLS) is httpx's and its
transports': httpx-aiohttp (aiohttp underneath) on asyncio and uvloop, httpx's own
(httpcore) on trio and in the sync client. This module only chooses and configures
them, translates what they raise, and refuses answers that would not fit in memory.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import sys
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypedDict

import httpx

from ._errors import TempestConfigError

__all__ = [
    "ACCEPT_ENCODING",
    "post_request",
    "CA_BUNDLE_ENV",
    "CLIENT_CERT_ENV",
    "CLIENT_KEY_ENV",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "BodyReader",
    "AnswerTooLarge",
    "AttemptTimeout",
    "CertTypes",
    "TooLarge",
    "VerifyTypes",
    "build_async_http",
    "build_sync_http",
    "certificate_problem",
    "check_max_response_size",
    "environment_has_proxies",
    "is_cleartext_remote",
    "pool_limits",
    "ssl_context",
    "transport_error",
]

DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024
"""The largest answer body the clients accept, in bytes, before and after decompression.

A task, a page of resources or a report's answer is a few kilobytes; 16 MiB is far
above any real one and still small enough that no answer can exhaust a process.
"""

CA_BUNDLE_ENV: Final = "TEMPEST_CA_BUNDLE"
CLIENT_CERT_ENV: Final = "TEMPEST_CLIENT_CERT"
CLIENT_KEY_ENV: Final = "TEMPEST_CLIENT_KEY"

VerifyTypes = bool | str | os.PathLike[str] | ssl.SSLContext | None
"""`verify=`: True (the default CAs), False (no verification: tests only), the path of
a CA bundle file or directory, or a ready `ssl.SSLContext`. None reads
`TEMPEST_CA_BUNDLE`, else means True."""

CertTypes = str | os.PathLike[str] | tuple[str | os.PathLike[str], str | os.PathLike[str]] | None
"""`cert=`: a client certificate file (PEM, with its key), or (certificate file, key file).
None reads `TEMPEST_CLIENT_CERT` (and `TEMPEST_CLIENT_KEY`)."""

# Only what the bounded decoder below can inflate is asked for.
ACCEPT_ENCODING: Final = "gzip, deflate"


def ssl_context(
    verify: VerifyTypes,
    cert: CertTypes,
    *,
    trust_env: bool,
    environ: Mapping[str, str] | None = None,
) -> ssl.SSLContext:
    """The TLS settings of a client, built once and shared by every connection.

    `verify=True` is httpx's own default context (certifi's CAs, or `SSL_CERT_FILE` /
    `SSL_CERT_DIR` when `trust_env`), so the SDK trusts exactly what httpx trusts.

    Raises:
        TempestConfigError: a CA bundle or certificate that cannot be loaded, or options
            that contradict each other. The message names the file and the setting.
    """
    env = os.environ if environ is None else environ
    source = "verify="
    if verify is None:
        bundle = env.get(CA_BUNDLE_ENV, "").strip()
        verify, source = (bundle, CA_BUNDLE_ENV) if bundle else (True, "verify=")
    if cert is None:
        cert_file = env.get(CLIENT_CERT_ENV, "").strip()
        key_file = env.get(CLIENT_KEY_ENV, "").strip()
        if key_file and not cert_file:
            raise TempestConfigError(
                f"{CLIENT_KEY_ENV} is set but {CLIENT_CERT_ENV} is not; set both, or "
                f"{CLIENT_CERT_ENV} alone to a file holding the certificate and its key"
            )
        if cert_file:
            cert = (cert_file, key_file) if key_file else cert_file
            cert_source = CLIENT_CERT_ENV
        else:
            cert_source = "cert="
    else:
        cert_source = "cert="

    if isinstance(verify, ssl.SSLContext):
        if cert is not None:
            raise TempestConfigError(
                f"{cert_source} cannot be combined with an ssl.SSLContext in verify=: load "
                "the client certificate into that context with load_cert_chain()"
            )
        return verify
    if isinstance(verify, bool):
        context = httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    else:
        path = os.fspath(verify)
        try:
            if os.path.isdir(path):
                context = ssl.create_default_context(capath=path)
            else:
                context = ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise TempestConfigError(
                f"cannot load the CA bundle {path!r} given by {source}: {_reason(exc)}; "
                "give a PEM file (or a directory of hashed certificates) of the CAs to trust"
            ) from None
    if cert is not None:
        certificate, key = (cert, None) if not isinstance(cert, tuple) else cert
        try:
            context.load_cert_chain(os.fspath(certificate), os.fspath(key) if key else None)
        except (OSError, ssl.SSLError) as exc:
            raise TempestConfigError(
                f"cannot load the client certificate {os.fspath(certificate)!r} given by "
                f"{cert_source}: {_reason(exc)}; give PEM files of the certificate and its "
                f"unencrypted private key (in one file, or the key in {CLIENT_KEY_ENV})"
            ) from None
    return context


def _reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return exc.strerror or type(exc).__name__


def check_max_response_size(value: int) -> int:
    """Check a `max_response_size` value.

    Raises:
        TempestConfigError: it is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TempestConfigError(
            f"max_response_size must be a positive number of bytes, got {value!r}"
        )
    return value


def pool_limits(max_connections: int) -> httpx.Limits:
    """The pool of a client's own transport: `max_connections` open, as many kept idle.

    Idle connections are kept up to the same number (httpx keeps 20 by default): a
    runner reuses what it opened, and closing and reopening them under load costs a
    handshake each time. They still close after 5 s unused.
    """
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def build_async_http(
    library: str,
    *,
    context: ssl.SSLContext,
    trust_env: bool,
    timeout: httpx.Timeout,
    max_connections: int,
) -> httpx.AsyncClient | httpx.AsyncBaseTransport:
    """What the async client sends through, for the running event loop `library`
    (sniffio's name), with a pool of `max_connections`.

    On asyncio (uvloop included), httpx-aiohttp: several times cheaper per request than
    httpx's own transport, which also slows down under many concurrent calls. aiohttp
    runs on asyncio only, so trio gets httpx's own.

    When the environment configures a proxy, an httpx client, so that httpx applies
    it (and `NO_PROXY`) with its own rules. Otherwise httpx would route every request
    to one transport, so the transport itself is returned and requests go to it
    straight: `AsyncClient.send` adds auth, redirect, cookie and hook handling that
    the API needs none of, and skipping it made the runner 30 % faster (measured with
    benchmarks/bench_runner.py's no-op runs).
    """
    aiohttp = library == "asyncio"
    limits = pool_limits(max_connections)
    if trust_env and environment_has_proxies():
        client = httpx.AsyncClient
        if aiohttp:
            from httpx_aiohttp import HttpxAiohttpClient

            client = HttpxAiohttpClient
        return client(**_proxied_client_options(context, timeout, limits))
    if aiohttp:
        from httpx_aiohttp import AiohttpTransport

        # Its connector's `limit` is taken from `limits.max_connections`.
        return AiohttpTransport(verify=context, trust_env=trust_env, limits=limits)
    return httpx.AsyncHTTPTransport(verify=context, trust_env=trust_env, limits=limits)


class _ClientOptions(TypedDict):
    verify: ssl.SSLContext
    trust_env: bool
    timeout: httpx.Timeout
    follow_redirects: bool
    limits: httpx.Limits


def _proxied_client_options(
    context: ssl.SSLContext, timeout: httpx.Timeout, limits: httpx.Limits
) -> _ClientOptions:
    """One client's options, either kind: only built when the environment has a proxy,
    so `trust_env` is on; redirects are never followed (the API has none)."""
    return _ClientOptions(
        verify=context, trust_env=True, timeout=timeout, follow_redirects=False, limits=limits
    )


def environment_has_proxies() -> bool:
    """True when the environment (or the system, where Python reads it) configures a
    proxy httpx would use: the same source and keys as httpx's own look-up."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def build_sync_http(
    *,
    context: ssl.SSLContext,
    trust_env: bool,
    timeout: httpx.Timeout,
    max_connections: int,
) -> httpx.Client | httpx.BaseTransport:
    """What the sync client sends through: httpx's own transport, with a pool of
    `max_connections`; an httpx client over it when the environment configures a proxy
    (the same choice, for the same reasons, as `build_async_http`)."""
    limits = pool_limits(max_connections)
    if trust_env and environment_has_proxies():
        return httpx.Client(**_proxied_client_options(context, timeout, limits))
    return httpx.HTTPTransport(verify=context, trust_env=trust_env, limits=limits)


def post_request(
    url: httpx.URL, headers: httpx.Headers, body: bytes, extensions: dict[str, object]
) -> httpx.Request:
    """The request `httpx.Request("POST", url, headers=..., content=body)` builds: `Host`
    and `Content-Length` added, the body read. Built from the headers whole, which
    costs a quarter as much (no default-header merging, one copy of the headers): it
    is built for every call the runner makes."""
    request = httpx.Request(
        "POST",
        url,
        headers=[
            (b"Host", url.netloc),
            *headers.raw,
            (b"Content-Length", str(len(body)).encode()),
        ],
        stream=httpx.ByteStream(body),
        extensions=extensions,
    )
    request.read()
    return request


def is_cleartext_remote(endpoint: str) -> bool:
    """True for an `http://` endpoint on a host other than this machine's loopback."""
    url = httpx.URL(endpoint)
    if url.scheme != "http":
        return False
    host = url.host
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


# --- errors -----------------------------------------------------------------------------


class AttemptTimeout(httpx.TimeoutException):
    """An attempt went past the client's `attempt_timeout`: connecting, sending and
    reading the whole answer took too long, however steadily the bytes came.

    A transport-level timeout like httpx's own, so that it is retried like them.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the attempt took longer than attempt_timeout ({seconds:g} s)")
        self.seconds = seconds


def transport_error(exc: BaseException) -> httpx.TransportError | None:
    """`exc` as the httpx transport error that says what happened, or None if it is
    not a transport failure.

    httpx-aiohttp maps aiohttp's errors coarsely (a refused connection and a dropped
    one both become `ConnectTimeout`) and lets some through unmapped (a malformed
    answer); this is where they get their right httpx class, the cause kept.
    """
    origin = exc.__cause__ if isinstance(exc, httpx.TransportError) else exc
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(origin, aiohttp.ClientError):
        mapped = _from_aiohttp(origin)
        mapped.__cause__ = origin
        return mapped
    if isinstance(exc, httpx.TransportError):
        return exc
    return None


def _from_aiohttp(exc: BaseException) -> httpx.TransportError:
    from aiohttp import client_exceptions as errors

    text = str(exc) or type(exc).__name__
    if isinstance(exc, errors.ClientProxyConnectionError | errors.ClientHttpProxyError):
        return httpx.ProxyError(text)
    if isinstance(exc, errors.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, errors.ServerTimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(exc, errors.ClientConnectorError):  # refused, DNS, TLS handshake
        return httpx.ConnectError(text)
    if isinstance(exc, errors.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            "the server closed the connection without sending a complete answer"
        )
    if isinstance(exc, errors.ClientOSError | errors.ClientConnectionResetError):
        return httpx.ReadError(text)
    if isinstance(exc, errors.ClientPayloadError | errors.ClientResponseError):
        # A body cut short or an answer that is not valid HTTP/1.1.
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, errors.InvalidURL | errors.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text)
    return httpx.TransportError(text)


@dataclass(frozen=True, slots=True)
class CertificateProblem:
    """Why a TLS handshake failed on a certificate, and what to check."""

    detail: str
    advice: str


def certificate_problem(exc: BaseException) -> CertificateProblem | None:
    """The certificate failure behind a transport error, if that is what it was.

    Such failures are not retried: the same certificate fails the same way.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            # aiohttp's certificate error is one too, holding the original in
            # `certificate_error`, without the original's attributes.
            original = getattr(current, "certificate_error", current)
            detail = (
                getattr(original, "verify_message", None)
                or getattr(original, "reason", None)
                or str(original)
            )
            if "hostname" in detail.lower() or "ip address mismatch" in detail.lower():
                advice = (
                    "the certificate is not for this host: check the host name in "
                    "TEMPEST_API_ENDPOINT (or endpoint=)"
                )
            else:
                advice = (
                    "the certificate is not signed by a CA this client trusts: if the "
                    "server (or a proxy in between) uses a private CA, give its CA bundle "
                    f"with verify= or {CA_BUNDLE_ENV}; check the system clock if it expired"
                )
            return CertificateProblem(detail, advice)
        if isinstance(current, ssl.SSLError) and "CERTIFICATE" in (current.reason or ""):
            return CertificateProblem(
                current.reason or str(current),
                "the server refused this client's certificate (or wants one): give it "
                f"with cert= or {CLIENT_CERT_ENV} (and {CLIENT_KEY_ENV})",
            )
        current = current.__cause__ or current.__context__
    return None


# --- bounded answers --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TooLarge:
    """Outcome of a send whose answer went over `max_response_size`."""

    limit: int
    what: str  # "announced", "received" or "decompressed"


class AnswerTooLarge(Exception):
    """Raised by `BodyReader` when the answer goes over the cap."""

    def __init__(self, outcome: TooLarge) -> None:
        super().__init__(outcome.what)
        self.outcome = outcome


class BodyReader:
    """Collects an answer's body as it streams in, never holding more than `limit` bytes
    of it, compressed or not.

    httpx inflates a whole network chunk at once, so a small compressed chunk can become
    a gigabyte; the body is therefore read raw and inflated here with zlib, bounded.
    Encodings other than gzip and deflate are not asked for and are kept as received.
    """

    __slots__ = (
        "_head",
        "_inflate",
        "_limit",
        "_parts",
        "_raw",
        "_response",
        "_size",
        "plain",
        "whole",
    )

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self._response = response
        self._limit = limit
        self._parts: list[bytes] = []
        self._raw = 0
        self._size = 0
        announced = response.headers.get("content-length")
        length = int(announced) if announced is not None and announced.isdigit() else None
        if length is not None and length > limit:
            raise AnswerTooLarge(TooLarge(limit, "announced"))
        encoding = response.headers.get("content-encoding", "").strip().lower()
        # Reading the body whole is safe, and cheaper, when the transport's own framing
        # bounds it (a Content-Length within the limit, nothing to inflate) or when it
        # was read before the answer came back (a mock transport built it whole).
        # (A response built with its content, as mock transports build them, was read
        # whole when built; a streamed one is consumed only once read. No exception
        # raised and caught per answer, as asking for `.content` would.)
        self.whole = response.is_stream_consumed
        self.plain = (length is not None and encoding in ("", "identity")) or self.whole
        # gzip, or deflate in its zlib wrapper (32 + MAX_WBITS reads either header)...
        self._inflate = (
            zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding in ("gzip", "deflate") else None
        )
        # ...or, as some servers send it, bare deflate: tried if the header is not there.
        # The first bytes are kept until the header is seen, to be inflated again.
        self._head: bytes | None = b"" if encoding == "deflate" else None

    def check(self, content: bytes) -> httpx.Response:
        """The answer, once its whole body `content` was read; refused over the limit."""
        if len(content) > self._limit:
            raise AnswerTooLarge(TooLarge(self._limit, "received"))
        return self._response

    def feed(self, chunk: bytes) -> None:
        """Take the next raw chunk of the body.

        Raises:
            AnswerTooLarge: the body, raw or inflated, went over the limit.
            httpx.RemoteProtocolError: a gzip or deflate body that does not inflate.
        """
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise AnswerTooLarge(TooLarge(self._limit, "received"))
        if self._inflate is None:
            self._parts.append(chunk)
            self._size = self._raw
            return
        room = self._limit - self._size
        try:
            # At most room + 1 bytes come out, so going over is seen without holding more.
            data = self._inflate.decompress(chunk, room + 1)
        except zlib.error as exc:
            head, self._head = self._head, None
            if head is None:
                raise httpx.RemoteProtocolError(
                    f"the compressed answer is corrupt: {exc}"
                ) from None
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self._raw -= len(head) + len(chunk)
            self.feed(head + chunk)
            return
        if self._head is not None:
            # A zlib header is two bytes: once past them, this is no bare deflate.
            self._head = None if data or len(self._head) + len(chunk) > 2 else self._head + chunk
        if len(data) > room:
            raise AnswerTooLarge(TooLarge(self._limit, "decompressed"))
        self._size += len(data)
        self._parts.append(data)

    def response(self) -> httpx.Response:
        """The answer with its whole (decoded) body, ready to parse."""
        if self._inflate is not None:
            # Everything fed was inflated within the limit; what flush() adds is what
            # zlib kept back for a lack of input, bounded by its window.
            rest = self._inflate.flush()
            if self._size + len(rest) > self._limit:
                raise AnswerTooLarge(TooLarge(self._limit, "decompressed"))
            self._parts.append(rest)
        original = self._response
        headers = [
            (name, value)
            for name, value in original.headers.raw
            if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
        ]
        return httpx.Response(
            original.status_code,
            headers=headers,
            content=b"".join(self._parts),
            request=original.request,
            extensions=original.extensions,
        )
