"""A FastAPI service that receives Tempo's outbound REST events and serves the
`tempo-events` private app (tempo_app.py) over the same store.

Tempo POSTs every event to one URL, here `POST /tempo/events`, authenticated with
Basic credentials or an API-key header, with the event's id in `X-Request-Id`. Tempo
does not look at the answer and does not retry, so the receiver is idempotent: a
request id seen before is answered 200 again and not stored twice.

    uvicorn tempo_service:api --timeout-graceful-shutdown 3   # exits 143 on SIGTERM
    python tempo_service.py --port 8000                      # exits 0 after a clean drain

See README.md for the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hmac
import json
import logging
import re
import signal
import sys
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeGuard

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from tempo_app import app as tempo_app
from tempo_store import AuthMode, EventStore, NewEvent

import tempest_sdk as tempest
from tempest_sdk.client import AsyncTempestClient
from tempest_sdk.runner import ReportEvent, Runner, RunnerHook, options_from_env

logger = logging.getLogger("tempo_events.receiver")

EVENTS_PATH = "/tempo/events"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP token (RFC 9110)
# Headers Tempo sets itself: an API key sent in one of them could not be told apart.
_RESERVED = {"authorization", "content-type", "content-length", "x-request-id", "x-correlation-id"}
_MAX_ID = 200


class ReceiverSettings(BaseSettings):
    """Tempo's credentials for this endpoint, from `TEMPO_*` variables or /run/secrets.

    Configure Basic auth (username and password), API-key auth (a header name and the
    key), or both while Tempo's integration moves from one to the other.
    """

    model_config = SettingsConfigDict(env_prefix="TEMPO_", secrets_dir="/run/secrets")

    basic_username: str = ""
    basic_password: SecretStr = SecretStr("")
    api_key_header: str = "X-API-Key"
    api_key: SecretStr = SecretStr("")
    max_event_bytes: int = Field(default=1_048_576, gt=0)

    @property
    def basic(self) -> bool:
        """Whether Basic credentials are configured."""
        return bool(self.basic_username and self.basic_password.get_secret_value())

    @property
    def api_key_enabled(self) -> bool:
        """Whether an API key is configured."""
        return bool(self.api_key.get_secret_value())

    def problems(self) -> list[str]:
        """What is missing or inconsistent, each with the variable to set."""
        found: list[str] = []
        if not self.basic and not self.api_key_enabled:
            found.append(
                "no credentials for Tempo: set TEMPO_BASIC_USERNAME and TEMPO_BASIC_PASSWORD "
                "(Basic auth), or TEMPO_API_KEY (API-key auth, in the header named by "
                "TEMPO_API_KEY_HEADER, default X-API-Key), as configured in Tempo"
            )
        if bool(self.basic_username) != bool(self.basic_password.get_secret_value()):
            missing = "TEMPO_BASIC_PASSWORD" if self.basic_username else "TEMPO_BASIC_USERNAME"
            found.append(f"Basic auth needs a username and a password: set {missing} too")
        if ":" in self.basic_username:
            found.append("TEMPO_BASIC_USERNAME cannot contain ':' (Basic auth splits on it)")
        if not _HEADER_NAME.match(self.api_key_header):
            found.append(
                f"TEMPO_API_KEY_HEADER {self.api_key_header!r} is not an HTTP header name "
                "(letters, digits and -, e.g. X-API-Key)"
            )
        elif self.api_key_header.lower() in _RESERVED:
            found.append(
                f"TEMPO_API_KEY_HEADER cannot be {self.api_key_header}: Tempo sets that header "
                "itself; use the key name configured in Tempo, e.g. X-API-Key"
            )
        return found


def load_receiver_settings() -> ReceiverSettings:
    """Read and check the receiver's settings.

    Raises:
        tempest.SettingsError: every problem, each with the variable to set.
    """
    settings = tempest.load_settings(ReceiverSettings)
    problems = settings.problems()
    if problems:
        raise tempest.SettingsError("ReceiverSettings", problems)
    return settings


class Refused(Exception):
    """A delivery whose credentials are missing or wrong; the message says which."""


def authenticate(headers: Mapping[str, str], settings: ReceiverSettings) -> AuthMode:
    """Check a delivery's credentials against the configured modes; return the one used.

    `headers` must look names up case-insensitively (Starlette's `Headers` does).

    Raises:
        Refused: no credentials of a configured mode, or wrong ones.
    """
    if settings.api_key_enabled:
        sent = headers.get(settings.api_key_header)
        if sent is not None:
            if _same(sent, settings.api_key.get_secret_value()):
                return "api_key"
            raise Refused(f"the {settings.api_key_header} header does not hold the API key")
    if settings.basic:
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, encoded = authorization.partition(" ")
            if scheme.lower() != "basic":
                raise Refused(f"the Authorization header uses {scheme!r}, not Basic")
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise Refused("the Authorization header is not valid Basic credentials") from None
            username, colon, password = decoded.partition(":")
            # Both compared in full, so the time taken says nothing about which was wrong.
            right_user = _same(username, settings.basic_username)
            right_password = _same(password, settings.basic_password.get_secret_value())
            if colon and right_user and right_password:
                return "basic"
            raise Refused("wrong Basic username or password")
    expected = [f"the {settings.api_key_header} header"] if settings.api_key_enabled else []
    if settings.basic:
        expected.append("Authorization: Basic")
    raise Refused(f"no credentials: send {' or '.join(expected)}")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class TempoMetadata(BaseModel):
    """The `Metadata` block Tempo merges into the body when metadata-in-payload is on."""

    # Lenient where it costs nothing: Tempo does not resend an event that was refused.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    organization_id: str | None = Field(default=None, alias="OrganizationID")
    organization_name: str | None = Field(default=None, alias="OrganizationName")
    organization_url: str | None = Field(default=None, alias="OrganizationURL")
    event_type: str | None = Field(default=None, alias="EventType")
    event_trigger: str | None = Field(default=None, alias="EventTrigger")
    subscriber: str | None = Field(default=None, alias="Subscriber")
    created_by: str | None = Field(default=None, alias="CreatedBy")
    source_environment: str | None = Field(default=None, alias="SourceEnvironment")
    creation_date_time: str | None = Field(default=None, alias="CreationDateTime")


class BadDelivery(Exception):
    """A delivery the receiver cannot store; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def parse_event(
    headers: Mapping[str, str], body: bytes, auth: AuthMode, content_type: str
) -> NewEvent:
    """Read one delivery into the event to store.

    Raises:
        BadDelivery: not JSON, not an object, a malformed Metadata block, or no event id.
    """
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise BadDelivery(
            415, f"Content-Type is {content_type or 'missing'!r}; send application/json"
        )
    try:
        # Decoded first: json.loads would also take UTF-16 and UTF-32 bytes.
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadDelivery(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadDelivery(400, f"the body is not JSON: {exc}") from None
    if not _is_object(payload):
        raise BadDelivery(422, f"the body is a JSON {type(payload).__name__}, not an object")
    metadata = TempoMetadata()
    if "Metadata" in payload:
        if not isinstance(payload["Metadata"], dict):
            raise BadDelivery(422, "Metadata must be an object")
        try:
            metadata = TempoMetadata.model_validate(payload["Metadata"])
        except ValidationError as exc:
            where = "; ".join(
                f"Metadata.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise BadDelivery(422, where) from None
    request_id = headers.get("x-request-id") or _body_id(payload)
    if not request_id:
        raise BadDelivery(
            400,
            "no X-Request-Id header and no event_id in the body: the event cannot be "
            "deduplicated without its id",
        )
    if len(request_id) > _MAX_ID:
        raise BadDelivery(400, f"X-Request-Id is {len(request_id)} characters; at most {_MAX_ID}")
    return NewEvent(
        request_id=request_id,
        correlation_id=headers.get("x-correlation-id") or request_id,
        auth=auth,
        payload=payload,
        has_metadata="Metadata" in payload,
        event_type=metadata.event_type or "",
        event_trigger=metadata.event_trigger or "",
        subscriber=metadata.subscriber or "",
        organization_name=metadata.organization_name or "",
        created_by=metadata.created_by or "",
        source_environment=metadata.source_environment or "",
        created_at=metadata.creation_date_time or "",
    )


def _is_object(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether `value`, as json.loads returns it, is a JSON object: a dict, keyed by text."""
    return isinstance(value, dict)


def _body_id(payload: dict[str, Any]) -> str:
    for key in ("event_id", "EventID"):
        value = payload.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return ""


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _ReportsLeft(RunnerHook):
    """Counts reports still undelivered when the runner stopped."""

    def __init__(self) -> None:
        self.abandoned = 0

    async def on_report(self, event: ReportEvent) -> None:
        if event.outcome == "abandoned":
            self.abandoned += 1


@dataclass(frozen=True)
class Service:
    """What the routes share while the service runs (the lifespan's state)."""

    settings: ReceiverSettings
    store: EventStore
    runner: Runner


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncGenerator[dict[str, Service]]:
    """Open the store through the app's lifespan, serve the app beside the routes."""
    settings = load_receiver_settings()
    loop = asyncio.get_running_loop()
    logger.info("event loop: %s.%s", type(loop).__module__, type(loop).__qualname__)
    left = _ReportsLeft()
    # Entering the app's lifespan here opens the store once: the runner, which enters
    # it too, shares this entry, so handlers and routes see the same EventStore.
    async with (
        tempo_app.serving() as store,
        AsyncTempestClient() as client,
        Runner(tempo_app, client, options=options_from_env(), hooks=[left]) as runner,
    ):
        try:
            yield {"service": Service(settings, store, runner)}
        finally:
            # The server accepts no more events: tasks waiting for one end now, and
            # the runner drains (leaving the block) before the store closes.
            store.stop_waiting()
    api.state.reports_left = left.abandoned


def _service(request: Request) -> Service:
    service: Service = request.state.service
    return service


def create_api() -> FastAPI:
    """The service's FastAPI application."""
    api = FastAPI(title="Tempo events", lifespan=lifespan)
    api.state.reports_left = 0

    @api.post(EVENTS_PATH, summary="Receive one Tempo event")
    async def receive(request: Request) -> JSONResponse:
        service = _service(request)
        settings = service.settings
        client = request.client.host if request.client else "?"
        try:
            auth = authenticate(request.headers, settings)
        except Refused as exc:
            service.store.note_refusal()
            logger.warning("refused a delivery from %s: %s", client, exc)
            challenge = {"WWW-Authenticate": 'Basic realm="tempo-events", charset="UTF-8"'}
            return JSONResponse(
                {"detail": str(exc)}, status_code=401, headers=challenge if settings.basic else None
            )
        try:
            body = await _read_body(request, settings.max_event_bytes)
            new = parse_event(request.headers, body, auth, request.headers.get("content-type", ""))
        except _TooLarge:
            limit = settings.max_event_bytes
            logger.warning("refused a delivery from %s: larger than %d bytes", client, limit)
            return JSONResponse(
                {"detail": f"the body is larger than {limit} bytes (TEMPO_MAX_EVENT_BYTES)"},
                status_code=413,
            )
        except BadDelivery as exc:
            logger.warning("refused a delivery from %s: %s", client, exc)
            return JSONResponse({"detail": str(exc)}, status_code=exc.status)
        recorded = await service.store.record(new)
        if recorded.new:
            logger.info(
                "received event %s (%s/%s) by %s",
                new.request_id,
                new.event_type or "-",
                new.event_trigger or "-",
                auth,
            )
        elif not recorded.same_body:
            logger.warning(
                "event %s was delivered again with a different body; the first one is kept",
                new.request_id,
            )
        else:
            logger.info("event %s was delivered again; stored once", new.request_id)
        # 200 for a duplicate too: it is stored, and a sender that retries on errors
        # must not be told otherwise.
        return JSONResponse(
            {"request_id": new.request_id, "duplicate": not recorded.new}, status_code=200
        )

    @api.get("/livez", summary="Liveness")
    async def livez(request: Request) -> JSONResponse:
        probe = _service(request).runner.liveness()
        return JSONResponse({"ok": probe.ok, "reason": probe.reason}, probe.status_code)

    @api.get("/readyz", summary="Readiness")
    async def readyz(request: Request) -> JSONResponse:
        probe = _service(request).runner.readiness()
        return JSONResponse({"ok": probe.ok, "reason": probe.reason}, probe.status_code)

    return api


api = create_api()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve `api` with uvicorn; exit 0 after a stop by SIGTERM or SIGINT that drained.

    `uvicorn tempo_service:api` ends with the signal's status (143) once it stopped;
    this entry point treats the signal as the normal way to stop, and exits 1 only
    when reports were left undelivered.
    """
    import uvicorn

    parser = argparse.ArgumentParser(description="Receive Tempo events; serve tempo-events.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument(
        "--timeout-graceful-shutdown",
        type=float,
        default=3.0,
        help="seconds open requests get on stop, before the runner drains (default 3)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    caught: list[int] = []

    def note(signum: int, frame: object) -> None:
        caught.append(signum)

    # uvicorn raises the signal it stopped on again after its shutdown; with this
    # handler in place that ends nothing, and the exit status below says how it went.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, note)
    uvicorn.run(
        api,
        host=args.host,
        port=args.port,
        loop=args.loop,
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
    )
    left: int = api.state.reports_left
    if left:
        logger.error("%d report(s) were not delivered before the stop", left)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
