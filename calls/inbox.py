"""Ingest: commit what a provider told us, then (and only then) acknowledge it.

`inbox_accept` stores every event in one transaction. Work is handed to the workers after the
commit; if the broker is down the hand-off is skipped and the sweeper finds the call by its
`due_at`. Nothing here talks to Outreach.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F

from calls.doorbell import enqueue_calls
from calls.models import Call, CallStatus, InboxEvent, call_is_urgent
from integrations.events import CallEvent, Direction
from integrations.models import ProviderConnection
from portal import clock

logger = logging.getLogger(__name__)


@dataclass
class Accepted:
    stored: int = 0
    duplicates: int = 0
    call_ids: set[int] = field(default_factory=set)


DEDUP_CONSTRAINT = "one_event_per_key"  # InboxEvent's unique (connection, dedup_key)
# PostgreSQL's codes for "try the transaction again": deadlock, serialization failure.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


def inbox_accept(
    *,
    connection: ProviderConnection,
    events: Sequence[CallEvent],
    headers: Mapping[str, str] | None = None,
) -> Accepted:
    """Store the events (with the headers of the request that brought them, for support staff;
    nothing that signs or authorises); a transaction that lost a deadlock is simply run again."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _accept(connection=connection, events=events, headers=headers or {})
        except OperationalError as error:
            sqlstate = getattr(error.__cause__, "sqlstate", None)
            if sqlstate not in RETRYABLE_SQLSTATES or attempt == ATTEMPTS:
                raise
            logger.info("inbox transaction retried after %s (attempt %s)", sqlstate, attempt)
    raise AssertionError("unreachable")


def _accept(
    *, connection: ProviderConnection, events: Sequence[CallEvent], headers: Mapping[str, str]
) -> Accepted:
    accepted = Accepted()
    urgent: set[int] = set()
    with transaction.atomic():
        # Every transaction touches calls in the same order, so two can never wait on each other.
        for event in sorted(events, key=lambda event: event.provider_call_id):
            call = _call_for(connection=connection, event=event)
            if _store(connection=connection, call=call, event=event, headers=headers):
                accepted.stored += 1
                accepted.call_ids.add(call.pk)
                if call_is_urgent(call):
                    urgent.add(call.pk)
            else:
                accepted.duplicates += 1
        if accepted.call_ids:
            # Held calls too: a later event may bring what they wait for (the agent who
            # answered, the Outreach call id); if not, the claim holds them again at once.
            now = clock.now()
            Call.objects.filter(pk__in=accepted.call_ids).update(
                due_at=now, status=CallStatus.ACTIVE, last_event_at=now
            )
        doorbells = [(call_id, call_id in urgent) for call_id in sorted(accepted.call_ids)]
        transaction.on_commit(lambda: enqueue_calls(doorbells))
    return accepted


def _call_for(*, connection: ProviderConnection, event: CallEvent) -> Call:
    call = _existing_call(connection=connection, event=event)
    if call is None:
        try:
            with transaction.atomic():
                return Call.objects.create(**_new_call_fields(connection=connection, event=event))
        except IntegrityError:
            # Another transaction recorded the call first (the same event delivered twice at
            # once, or a provider's webhook racing the rep's dial): it has committed, so read it.
            call = _existing_call(connection=connection, event=event)
            if call is None:
                raise
    _learn(call, connection=connection, event=event)
    return call


def _existing_call(*, connection: ProviderConnection, event: CallEvent) -> Call | None:
    """The call an event belongs to: by the provider's call id, else (outbound) by the Outreach
    call id, which a rep's dial records before the provider has named the call."""
    if event.provider_call_id:
        call = Call.objects.filter(
            connection=connection, provider_call_id=event.provider_call_id
        ).first()
        if call is not None:
            return call
    if event.outreach_call_id and event.direction == Direction.OUTBOUND:
        return Call.objects.filter(
            organization_id=connection.organization_id, outreach_call_id=event.outreach_call_id
        ).first()
    return None


def _new_call_fields(*, connection: ProviderConnection, event: CallEvent) -> dict[str, object]:
    if not (event.provider_call_id or event.outreach_call_id):
        raise ValueError(f"event {event.dedup_key} names no call: no provider or Outreach id")
    return {
        "organization_id": connection.organization_id,
        "connection": connection,
        "provider_call_id": event.provider_call_id,
        "direction": event.direction,
        "outreach_call_id": event.outreach_call_id,
        "from_number": event.from_number.best if event.from_number else "",
        "to_number": event.to_number.best if event.to_number else "",
        "extension": event.extension,
        "agent": event.agent.as_dict(),
        "first_event_at": event.occurred_at,
        "last_event_at": clock.now(),
    }


def _learn(call: Call, *, connection: ProviderConnection, event: CallEvent) -> None:
    """Later events may know more than the first one did (an Outreach id, the agent, numbers,
    and for a dialled call the provider's own call id)."""
    identity = {
        name: value
        for name, value in (
            ("outreach_call_id", event.outreach_call_id),
            # Only its own connection names the call: another's ids are another namespace.
            (
                "provider_call_id",
                event.provider_call_id if call.connection_id == connection.pk else "",
            ),
        )
        if value and not getattr(call, name)
    }
    learned: dict[str, object] = {
        name: value
        for name, value in (
            ("from_number", event.from_number.best if event.from_number else ""),
            ("to_number", event.to_number.best if event.to_number else ""),
            ("extension", event.extension),
            ("agent", event.agent.as_dict()),
        )
        if value and not getattr(call, name)
    }
    if call.first_event_at is None or event.occurred_at < call.first_event_at:
        learned["first_event_at"] = event.occurred_at
    if identity:
        try:
            with transaction.atomic():
                Call.objects.filter(pk=call.pk).update(**identity)
        except IntegrityError:
            # Another call already holds that id (events that named the call differently
            # before): keep both as they are rather than merge them; the timeline shows both.
            logger.warning("call.identity_taken call=%s ids=%s", call.pk, identity)
    if learned:
        Call.objects.filter(pk=call.pk).update(**learned)


def _store(
    *, connection: ProviderConnection, call: Call, event: CallEvent, headers: Mapping[str, str]
) -> bool:
    """Insert the event; False when its key was seen before (the repeat is only counted)."""
    try:
        with transaction.atomic():
            InboxEvent.objects.create(
                organization_id=connection.organization_id,
                connection=connection,
                call=call,
                dedup_key=event.dedup_key,
                happening=event.happening,
                occurred_at=event.occurred_at,
                link=event.link,
                normalised=_normalised(event),
                raw=event.raw,
                headers=dict(headers),
            )
    except IntegrityError as error:
        if not _is_duplicate(error):
            raise  # anything else is not "seen before": the webhook must not be acknowledged
        InboxEvent.objects.filter(connection=connection, dedup_key=event.dedup_key).update(
            duplicates=F("duplicates") + 1, last_duplicate_at=clock.now()
        )
        return False
    return True


def _is_duplicate(error: IntegrityError) -> bool:
    """Only the de-duplication constraint means a repeat (PostgreSQL names it; SQLite says which
    columns)."""
    diagnostics = getattr(error.__cause__, "diag", None)
    if diagnostics is not None:
        return getattr(diagnostics, "constraint_name", None) == DEDUP_CONSTRAINT
    return "dedup_key" in str(error)


def _normalised(event: CallEvent) -> dict[str, object]:
    """The adapter's reading of the event, kept beside the raw payload for support staff."""
    return {
        "provider": event.provider,
        "provider_call_id": event.provider_call_id,
        "direction": str(event.direction),
        "happening": str(event.happening),
        "occurred_at": event.occurred_at.isoformat(),
        "outreach_call_id": event.outreach_call_id,
        "from": vars(event.from_number) if event.from_number else None,
        "to": vars(event.to_number) if event.to_number else None,
        "extension": event.extension,
        "agent": event.agent.as_dict(),
        "link": event.link,
    }
