"""tempo-events: a private app over the events Tempo publishes to this service.

- `subscription`: a filter over received events (by the `Metadata` block's event type,
  trigger and subscriber; empty matches any), with counts of matched and pending
  events. Create, read, update, delete, list; the `acknowledge` action marks its
  pending events as handled, and `await_event` waits for the next pending one.
- `event`: the received events themselves (read and list, oldest first), with a
  health check that turns `degraded` when Tempo's deliveries are refused.

`tempo_service.py` receives the events and serves this app from its lifespan over the
same store. The app also runs alone over a store on disk:

    TEMPO_EVENTS_DATABASE=/var/lib/tempo-events/events.sqlite3 \
        tempest-sdk serve tempo_app.py --emulator
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tempo_store import EventStore, StoredEvent, Subscription, SubscriptionExistsError

import tempest_sdk as tempest

app = tempest.App("tempo-events", "v1")

PAGE_SIZE = 50
_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"


class StoreSettings(BaseSettings):
    """Where the events are kept: `TEMPO_EVENTS_DATABASE`, a SQLite file or `:memory:`."""

    model_config = SettingsConfigDict(env_prefix="TEMPO_EVENTS_")

    database: str = Field(
        ":memory:",
        description="A SQLite file (kept across restarts), or :memory: (lost at exit).",
    )

    @field_validator("database")
    @classmethod
    def _directory_exists(cls, value: str) -> str:
        if value == ":memory:":
            return value
        path = Path(value).expanduser()
        if not path.parent.is_dir():
            raise ValueError(
                f"the directory of {value!r} does not exist: create it, or name a file in an "
                "existing directory (or :memory: to keep events in the process only)"
            )
        return str(path)


@app.lifespan
async def open_store() -> AsyncIterator[EventStore]:
    """Open the event store for as long as the app serves; handlers take it by type."""
    settings = tempest.load_settings(StoreSettings)
    async with EventStore.open(settings.database) as store:
        yield store


# -- subscriptions ------------------------------------------------------------------------


class SubscriptionProperties(BaseModel):
    name: str = Field(title="Name")
    event_type: str = Field(title="Event type", description="Matched Metadata.EventType.")
    event_trigger: str = Field(title="Event trigger", description="Matched Metadata.EventTrigger.")
    subscriber: str = Field(title="Subscriber", description="Matched Metadata.Subscriber.")
    matched: int = Field(title="Matched events", ge=0)
    pending: int = Field(title="Pending events", ge=0, description="Not acknowledged yet.")
    last_request_id: str = Field(title="Last event", description="The last matched event's id.")
    last_received_at: str = Field(title="Last received at")


_FILTER = "An empty value matches every event, including events sent without Metadata."


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        title="Name",
        description="Lowercase letters, digits and dashes; the subscription's id.",
        pattern=_NAME,
    )
    event_type: str = Field(
        "", title="Event type", description=f"Metadata.EventType, e.g. Batch. {_FILTER}"
    )
    event_trigger: str = Field(
        "",
        title="Event trigger",
        description=f"Metadata.EventTrigger, e.g. batch_run_status. {_FILTER}",
    )
    subscriber: str = Field(
        "", title="Subscriber", description=f"Metadata.Subscriber (the endpoint's name). {_FILTER}"
    )
    include_past: bool = Field(
        False,
        title="Include past events",
        description="Count events received before the subscription as pending.",
    )


class SubscriptionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str | None = Field(
        default=None, title="Event type", description="Leave out to keep."
    )
    event_trigger: str | None = Field(
        default=None, title="Event trigger", description="Leave out to keep."
    )
    subscriber: str | None = Field(
        default=None, title="Subscriber", description="Leave out to keep."
    )


class AcknowledgeInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: str = Field(
        "",
        title="Up to event",
        description="Acknowledge up to this event id (X-Request-Id); empty: every pending event.",
    )


class AcknowledgeOutput(BaseModel):
    acknowledged: int = Field(title="Acknowledged now", ge=0)
    pending: int = Field(title="Still pending", ge=0)


class AwaitInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_seconds: float = Field(default=10.0, title="Timeout (seconds)", gt=0, le=240)


class AwaitOutput(BaseModel):
    outcome: Literal["received", "timeout", "stopped"] = Field(
        title="Outcome",
        description="received: an event is pending; timeout: none arrived in time; "
        "stopped: the service stopped while waiting (run the action again).",
    )
    request_id: str = Field(default="", title="Event id")
    event_type: str = Field(default="", title="Event type")
    event_trigger: str = Field(default="", title="Event trigger")
    received_at: str = Field(default="", title="Received at")


subscription = app.resource(
    "subscription",
    display_name="Tempo event subscription",
    description="A filter over the events Tempo sends, with counts of matched and pending events.",
    properties=SubscriptionProperties,
    lifecycle_stage="operate",
)


def _subscription_resource(found: Subscription) -> tempest.Resource:
    filters = [f for f in (found.event_type, found.event_trigger, found.subscriber) if f]
    return tempest.Resource(
        external_id=found.name,
        display_name=f"{found.name} ({' / '.join(filters) or 'every event'})",
        properties=SubscriptionProperties(
            name=found.name,
            event_type=found.event_type,
            event_trigger=found.event_trigger,
            subscriber=found.subscriber,
            matched=found.matched,
            pending=found.pending,
            last_request_id=found.last_request_id,
            last_received_at=found.last_received_at,
        ),
    )


def _missing(name: str) -> tempest.ResourceNotFoundError:
    return tempest.ResourceNotFoundError(f"no subscription named {name!r}")


@subscription.create
async def create_subscription(
    ctx: tempest.Context, input: NewSubscription, store: EventStore
) -> tempest.Resource:
    """Create a subscription; a create delivered again returns the same one."""
    try:
        found, created = await store.create_subscription(
            input.name,
            event_type=input.event_type,
            event_trigger=input.event_trigger,
            subscriber=input.subscriber,
            include_past=input.include_past,
        )
    except SubscriptionExistsError as exc:
        old = exc.existing
        raise tempest.InvalidInputError(
            f"a subscription named {input.name!r} exists already with other filters "
            f"(event_type={old.event_type!r}, event_trigger={old.event_trigger!r}, "
            f"subscriber={old.subscriber!r}): choose another name, or update that one"
        ) from None
    if not created:
        ctx.logger.info("subscription %s exists with these filters already", input.name)
    return _subscription_resource(found)


@subscription.read
async def read_subscription(resource: tempest.Resource, store: EventStore) -> tempest.Resource:
    """Read a subscription with its current counts."""
    found = await store.subscription(resource.external_id)
    if found is None:
        raise _missing(resource.external_id)
    return _subscription_resource(found)


@subscription.update
async def update_subscription(
    resource: tempest.Resource, input: SubscriptionChange, store: EventStore
) -> tempest.Resource:
    """Change a subscription's filters; what was acknowledged stays acknowledged."""
    found = await store.update_subscription(
        resource.external_id,
        event_type=input.event_type,
        event_trigger=input.event_trigger,
        subscriber=input.subscriber,
    )
    if found is None:
        raise _missing(resource.external_id)
    return _subscription_resource(found)


@subscription.delete
async def delete_subscription(
    ctx: tempest.Context, resource: tempest.Resource, store: EventStore
) -> None:
    """Delete a subscription; the events it matched stay. Deleting twice is not an error."""
    if not await store.delete_subscription(resource.external_id):
        ctx.logger.info("subscription %s was deleted already", resource.external_id)


@subscription.list
async def list_subscriptions(cursor: str, store: EventStore) -> tempest.Page:
    """List subscriptions in name order; the cursor is the last name of the previous page."""
    found = await store.subscriptions(cursor, PAGE_SIZE + 1)
    page = found[:PAGE_SIZE]
    return tempest.Page(
        resources=[_subscription_resource(s) for s in page],
        next=page[-1].name if len(found) > PAGE_SIZE else "",
    )


@subscription.action(
    "acknowledge",
    display_name="Acknowledge events",
    description="Mark the subscription's pending events as handled (all, or up to one event).",
)
async def acknowledge(
    resource: tempest.Resource, input: AcknowledgeInput, store: EventStore
) -> AcknowledgeOutput:
    """Acknowledge pending events; acknowledging again changes nothing."""
    try:
        done = await store.acknowledge(resource.external_id, input.up_to)
    except LookupError:
        raise tempest.InvalidInputError(
            f"up_to: no event with id {input.up_to!r} was received; give the X-Request-Id "
            "of a received event (list the `event` resources), or leave it empty"
        ) from None
    if done is None:
        raise _missing(resource.external_id)
    count, after = done
    return AcknowledgeOutput(acknowledged=count, pending=after.pending)


@subscription.action(
    "await_event",
    display_name="Wait for an event",
    description="Wait until the subscription has a pending event (returns at once if it has).",
    timeout=260,  # above the input's 240 s limit
)
async def await_event(
    resource: tempest.Resource, input: AwaitInput, store: EventStore
) -> AwaitOutput:
    """Wait for the oldest pending event of the subscription, without acknowledging it."""
    try:
        outcome, found = await store.wait_for_pending(resource.external_id, input.timeout_seconds)
    except LookupError:
        raise _missing(resource.external_id) from None
    if found is None:
        return AwaitOutput(outcome=outcome)
    return AwaitOutput(
        outcome=outcome,
        request_id=found.request_id,
        event_type=found.event_type,
        event_trigger=found.event_trigger,
        received_at=found.received_at,
    )


# -- events -------------------------------------------------------------------------------


class EventProperties(BaseModel):
    request_id: str = Field(title="Event id", description="X-Request-Id, the event's EventID.")
    correlation_id: str = Field(title="Correlation id")
    received_at: str = Field(title="Received at")
    auth: Literal["basic", "api_key"] = Field(title="Authenticated by")
    has_metadata: bool = Field(title="Has Metadata", description="Sent with a Metadata block.")
    event_type: str = Field(title="Event type")
    event_trigger: str = Field(title="Event trigger")
    subscriber: str = Field(title="Subscriber")
    organization_name: str = Field(title="Organization")
    created_by: str = Field(title="Created by")
    source_environment: str = Field(title="Source environment")
    created_at: str = Field(title="Created at", description="Metadata.CreationDateTime.")
    payload: str = Field(
        title="Payload", description="The event's JSON body (compact, keys sorted)."
    )


event = app.resource(
    "event",
    display_name="Tempo event",
    description="An event Tempo published to this service (read-only).",
    properties=EventProperties,
    lifecycle_stage="monitor",
)


def _event_resource(found: StoredEvent) -> tempest.Resource:
    return tempest.Resource(
        external_id=found.request_id,
        display_name=f"{found.event_trigger or 'event'} {found.request_id}",
        properties=EventProperties(
            request_id=found.request_id,
            correlation_id=found.correlation_id,
            received_at=found.received_at,
            auth=found.auth,
            has_metadata=found.has_metadata,
            event_type=found.event_type,
            event_trigger=found.event_trigger,
            subscriber=found.subscriber,
            organization_name=found.organization_name,
            created_by=found.created_by,
            source_environment=found.source_environment,
            created_at=found.created_at,
            payload=found.payload,
        ),
    )


@event.read
async def read_event(resource: tempest.Resource, store: EventStore) -> tempest.Resource:
    """Read a received event by its id."""
    found = await store.event(resource.external_id)
    if found is None:
        raise tempest.ResourceNotFoundError(f"no event with id {resource.external_id!r}")
    return _event_resource(found)


@event.list
async def list_events(cursor: str, store: EventStore) -> tempest.Page:
    """List received events oldest first; the cursor is the arrival number of the last."""
    if cursor and not cursor.isdigit():
        raise tempest.InvalidInputError(
            f"cursor {cursor!r} was not handed out by this app: list from the first page "
            "(an empty cursor)"
        )
    found = await store.events(int(cursor or 0), PAGE_SIZE + 1)
    page = found[:PAGE_SIZE]
    return tempest.Page(
        resources=[_event_resource(e) for e in page],
        next=str(page[-1].seq) if len(found) > PAGE_SIZE else "",
    )


@event.health_check
async def receiving(store: EventStore) -> tempest.Health:
    """Degraded while Tempo's deliveries are refused for their credentials."""
    refused = store.recent_refusals()
    total, last = await store.count()
    if refused:
        return tempest.Health.degraded(
            f"{refused} delivery(ies) refused for bad or missing credentials in the last "
            "15 minutes: check the credentials of this endpoint in Tempo's REST integration"
        )
    return tempest.Health.healthy(
        f"{total} event(s) received" + (f", the last at {last}" if last else "")
    )
