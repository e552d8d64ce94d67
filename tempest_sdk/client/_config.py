"""Client configuration: token, endpoint, timeouts, retries, the connection pool and the
`User-Agent`."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Mapping
from typing import Final

import httpx

from .._version import __version__
from ._errors import TempestConfigError

__all__ = [
    "DEFAULT_ATTEMPT_TIMEOUT",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_RETRY_AFTER",
    "USE_CLIENT_DEFAULT",
    "Secret",
    "TimeoutTypes",
    "UseClientDefault",
    "resolve_attempt_timeout",
    "resolve_endpoint",
    "resolve_max_connections",
    "resolve_max_retries",
    "resolve_token",
    "token_file",
    "user_agent",
]

DEFAULT_ENDPOINT: Final = "https://developer.tempestdx.com/api/v1"
"""The Tempest API, used when neither `endpoint=` nor `TEMPEST_API_ENDPOINT` is set."""

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
"""5 s to connect, 30 s for each read, write and pool wait."""

DEFAULT_MAX_RETRIES: Final = 3
"""Retries after the first attempt (so 4 attempts at most)."""

DEFAULT_MAX_CONNECTIONS: Final = 100
"""Connections the client's own transport keeps open at most (and idle, for reuse)."""

DEFAULT_ATTEMPT_TIMEOUT: Final = 60.0
"""Seconds one attempt may take in all: connecting, sending and reading the whole answer."""

MAX_RETRY_AFTER: Final = 60.0
"""The longest `Retry-After` the client waits before a retry, in seconds."""

TimeoutTypes = float | httpx.Timeout | None
"""Seconds for every phase, an `httpx.Timeout`, or None for no timeout."""

_TOKEN_ENV = "TEMPEST_TOKEN"
_TOKEN_FILE_ENV = "TEMPEST_TOKEN_FILE"
_ENDPOINT_ENV = "TEMPEST_API_ENDPOINT"
MAX_CONNECTIONS_ENV: Final = "TEMPEST_MAX_CONNECTIONS"
ATTEMPT_TIMEOUT_ENV: Final = "TEMPEST_ATTEMPT_TIMEOUT"


class UseClientDefault:
    """The type of `USE_CLIENT_DEFAULT`: "use what the client was built with".

    A per-call `timeout=None` means "no timeout", so None cannot mean "the default".
    """

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT: Final = UseClientDefault()
"""Per-call `timeout=` / `max_retries=` value meaning "the client's own setting"."""


class Secret:
    """A string that never shows itself in a repr, a str or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value in clear, to put in the `Authorization` header and nowhere else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


def resolve_token(token: str | None, environ: Mapping[str, str] | None = None) -> Secret:
    """The API token: `token=`, else the file named by `TEMPEST_TOKEN_FILE`, else `TEMPEST_TOKEN`.

    Raises:
        TempestConfigError: no token anywhere, an unreadable or empty token file, or a
            token that cannot go in an HTTP header. The message never holds the token.
    """
    env = os.environ if environ is None else environ
    if token is not None:
        return _checked(token, "token=")
    path = env.get(_TOKEN_FILE_ENV, "")
    if path:
        source = f"the file {path!r} named by {_TOKEN_FILE_ENV}"
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise TempestConfigError(
                f"cannot read the API token from {source}: {reason}; fix the path or "
                f"the file's permissions, or unset {_TOKEN_FILE_ENV} to use {_TOKEN_ENV}"
            ) from None
        except UnicodeDecodeError:
            raise TempestConfigError(
                f"cannot read the API token from {source}: it is not UTF-8 text"
            ) from None
        return _checked(text, source)
    if _TOKEN_ENV in env:
        return _checked(env[_TOKEN_ENV], _TOKEN_ENV)
    raise TempestConfigError(
        "no Tempest API token: pass token=... to the client, set TEMPEST_TOKEN to the "
        "token, or set TEMPEST_TOKEN_FILE to the path of a file that holds it"
    )


def token_file(token: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The path the API token is read from, when `resolve_token` reads it from a file."""
    env = os.environ if environ is None else environ
    if token is not None:
        return None
    return env.get(_TOKEN_FILE_ENV, "") or None


def _checked(raw: str, source: str) -> Secret:
    # Surrounding whitespace (a file's trailing newline) is never part of a token.
    value = raw.strip()
    if not value:
        raise TempestConfigError(
            f"the API token from {source} is empty; set TEMPEST_TOKEN, TEMPEST_TOKEN_FILE "
            "or token= to a real token"
        )
    # Refuse what cannot be a header value here, where the error can name the source
    # without quoting the token (httpx's own error would quote the header).
    if not all("!" <= char <= "~" for char in value):
        raise TempestConfigError(
            f"the API token from {source} contains spaces, control or non-ASCII characters; "
            "check that it was copied whole and alone"
        )
    return Secret(value)


def resolve_endpoint(endpoint: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The API base URL: `endpoint=`, else `TEMPEST_API_ENDPOINT`, else `DEFAULT_ENDPOINT`.

    Raises:
        TempestConfigError: the URL is not an absolute http(s) URL.
    """
    env = os.environ if environ is None else environ
    if endpoint is not None:
        value, source = endpoint, "endpoint="
    elif env.get(_ENDPOINT_ENV):
        value, source = env[_ENDPOINT_ENV], _ENDPOINT_ENV
    else:
        return DEFAULT_ENDPOINT
    value = value.strip()
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise TempestConfigError(
            f"{source} {value!r} is not an http(s) URL; the Tempest API is {DEFAULT_ENDPOINT}"
        )
    if url.query or url.fragment:
        raise TempestConfigError(
            f"{source} {value!r} has a query or fragment; give the API's base URL, "
            f"like {DEFAULT_ENDPOINT}"
        )
    return value.rstrip("/")


def resolve_max_retries(max_retries: int) -> int:
    """Check a `max_retries` value.

    Raises:
        TempestConfigError: it is not a non-negative integer.
    """
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise TempestConfigError(
            f"max_retries must be an integer >= 0 (0 means a single attempt), got {max_retries!r}"
        )
    return max_retries


def resolve_max_connections(
    max_connections: int | None, environ: Mapping[str, str] | None = None
) -> int:
    """The connection pool's size: `max_connections=`, else `TEMPEST_MAX_CONNECTIONS`,
    else `DEFAULT_MAX_CONNECTIONS`.

    Raises:
        TempestConfigError: the value is not a positive integer.
    """
    given = _given_or_env(max_connections, "max_connections=", MAX_CONNECTIONS_ENV, environ, int)
    if given is None:
        return DEFAULT_MAX_CONNECTIONS
    value, source = given
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TempestConfigError(
            f"{source} must be a whole number of connections >= 1, got {value!r}; size it "
            "for what may be in flight at once (pollers + reporters + health checks)"
        )
    return value


def resolve_attempt_timeout(
    attempt_timeout: float | None, environ: Mapping[str, str] | None = None
) -> float | None:
    """The deadline of one attempt in seconds: `attempt_timeout=`, else
    `TEMPEST_ATTEMPT_TIMEOUT`, else `DEFAULT_ATTEMPT_TIMEOUT`; None when it is infinite.

    Raises:
        TempestConfigError: the value is not a positive number of seconds.
    """
    given = _given_or_env(attempt_timeout, "attempt_timeout=", ATTEMPT_TIMEOUT_ENV, environ, float)
    if given is None:
        return DEFAULT_ATTEMPT_TIMEOUT
    value, source = given
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value <= 0
    ):
        raise TempestConfigError(
            f"{source} must be a positive number of seconds (inf for no deadline), got {value!r}"
        )
    return None if math.isinf(value) else float(value)


def _given_or_env(
    given: object,
    keyword: str,
    variable: str,
    environ: Mapping[str, str] | None,
    parse: Callable[[str], object],
) -> tuple[object, str] | None:
    """An option's value and where it came from: the keyword when given, else the
    environment variable (parsed when it parses, else the text, for the message); None
    when neither says anything."""
    if given is not None:
        return given, keyword
    text = (os.environ if environ is None else environ).get(variable, "").strip()
    if not text:
        return None
    try:
        return parse(text), variable
    except ValueError:
        return text, variable


def user_agent() -> str:
    """`tempest-sdk/<version> python/<x.y.z> httpx/<version>`."""
    return f"tempest-sdk/{__version__} python/{platform.python_version()} httpx/{httpx.__version__}"
