"""Writes about calls that people (or other parts of the product) ask for."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from calls.doorbell import enqueue_call, enqueue_calls
from calls.inbox import inbox_accept
from calls.models import AgentMapping, Call, CallStatus, InboxEvent, call_is_urgent
from calls.rules import Direction, Happened, Happening, OutreachState, give_up_happening
from integrations.events import CallEvent
from integrations.outreach.client import OutreachClient
from integrations.outreach.errors import OutreachError
from integrations.outreach.selectors import connection_is_usable, organization_connection
from integrations.provider import AskLater, Capability, WebhookRejected
from integrations.registry import provider_class, provider_for, provider_kinds
from portal import clock
from portal.audit.services import audit_record
from portal.tenancy.models import Organization

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def calls_resume(*, organization: Organization, reason: str) -> int:
    """Release the organisation's held calls: what Outreach's window still accepts is sent, the
    rest is marked expired by the rules. Returns how many calls were released."""
    with transaction.atomic():
        calls = list(
            Call.objects.for_organization(organization)
            .filter(status=CallStatus.HELD)
            .only("pk", "direction", "reported_state")
        )
        held = [call.pk for call in calls]
        Call.objects.filter(pk__in=held).update(
            status=CallStatus.ACTIVE, due_at=clock.now(), problem=""
        )
        if held:
            audit_record(
                action="calls.resume",
                organization=organization,
                data={"calls": len(held), "reason": reason},
            )
        doorbells = [(call.pk, call_is_urgent(call)) for call in calls]
        transaction.on_commit(lambda: enqueue_calls(doorbells))
    return len(held)


def call_replay(*, call: Call, actor: User) -> None:
    """Support's "try again": the pipeline re-plans the call from its happenings and what
    Outreach has, so a replay can never send something twice or backwards. Whose call it is is
    decided again too, so a fixed agent mapping takes effect; a call a rep dialled stays theirs."""
    with transaction.atomic():
        ownership: dict[str, Any] = (
            {} if call.dialled_at else {"outreach_user_id": "", "owner": None}
        )
        Call.objects.filter(pk=call.pk).update(
            status=CallStatus.ACTIVE,
            due_at=clock.now(),
            problem="",
            attention="",
            failures=0,
            **ownership,
        )
        audit_record(
            action="call.replay",
            organization=call.organization,
            actor=actor,
            target=call,
            data={"status_before": call.status, "problem": call.problem},
        )
        urgent = call_is_urgent(call)
        transaction.on_commit(lambda: enqueue_call(call.pk, urgent=urgent))


# A call Outreach is up to date on, with nothing for a person to look at: a replay would change
# nothing, so it is refused with that said.
REPLAYABLE = ~Q(status=CallStatus.DONE, attention="")
# Calls one bulk replay re-plans at most, newest first (each is one short transaction).
BULK_REPLAY_LIMIT = 500


def calls_replay(*, calls: QuerySet[Call], actor: User) -> int:
    """Replay the newest replayable calls of a filtered set, each audited like a single replay.
    Returns how many were replayed."""
    chosen = list(calls.filter(REPLAYABLE).order_by("-created", "-id")[:BULK_REPLAY_LIMIT])
    for call in chosen:
        call_replay(call=call, actor=actor)
    return len(chosen)


def agent_mapping_delete(*, mapping: AgentMapping, actor: User) -> None:
    audit_record(
        action="agent_mapping.delete",
        organization=mapping.organization,
        actor=actor,
        target=mapping,
        data={
            "kind": mapping.kind,
            "value": mapping.value,
            "outreach_user_id": mapping.outreach_user_id,
        },
    )
    mapping.delete()


class OutreachUserUnknown(Exception):
    """The Outreach user named for a mapping cannot be found; the message says why."""


def outreach_user_resolve(*, organization: Organization, user: str) -> str:
    """An Outreach user id from what an admin typed, checked in the organisation's Outreach org
    (`users.read`): an email looked up, an id confirmed (taken as given while no Outreach
    connection can check it)."""
    user = user.strip()
    by_id = "@" not in user
    if by_id and not user.isdigit():
        raise OutreachUserUnknown("Give the user's email in Outreach, or their numeric id.")
    connection = organization_connection(organization=organization)
    if connection is None or not connection_is_usable(connection=connection):
        if by_id:  # nothing to check it against yet: taken as given
            return user
        raise OutreachUserUnknown(
            "Connect the organisation's Outreach first to map by email, or give the user id."
        )
    try:
        with OutreachClient(connection=connection) as client:
            if by_id:
                exists, _ = client.user_exists(user)
                found = user if exists else None
            else:
                found, _ = client.find_user_by_email(user)
    except OutreachError as error:
        raise OutreachUserUnknown(f"Outreach could not be asked: {error}") from None
    if found is None:
        what = "id" if by_id else "email"
        raise OutreachUserUnknown(
            f"No user with the {what} {user} in your Outreach org: calls mapped to it would "
            "fail. Check the user in Outreach, or give their email."
        )
    return found


def agent_mapping_create(
    *,
    organization: Organization,
    kind: str,
    value: str,
    outreach_user_id: str,
    user: User | None = None,
    actor: User | None = None,
) -> AgentMapping:
    with transaction.atomic():
        mapping = AgentMapping.objects.create(
            organization=organization,
            kind=kind,
            value=value.strip(),
            outreach_user_id=outreach_user_id,
            user=user,
        )
        audit_record(
            action="agent_mapping.create",
            organization=organization,
            actor=actor,
            target=mapping,
            data={"kind": kind, "value": value, "outreach_user_id": outreach_user_id},
        )
    calls_resume(organization=organization, reason=f"agent {kind} {value} mapped")
    return mapping


def on_connection_reactivated(sender: Any, connection: Any, **kwargs: Any) -> None:
    calls_resume(
        organization=connection.organization,
        reason=f"Outreach connection {connection.pk} usable again",
    )


def calls_ask_providers(*, limit: int = 100) -> int:
    """The reconciliation loop: a call with no final state that has been quiet for
    RECONCILE_AFTER_SECONDS is asked of its provider (when the provider can say), at most once
    per that period; what the provider reports goes through the inbox like any webhook's
    events. Returns how many calls were asked."""
    now = clock.now()
    quiet = timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)
    candidates = (
        Call.objects.filter(final_state="", last_event_at__lt=now - quiet)
        .exclude(status=CallStatus.FAILED)
        .exclude(provider_call_id="")  # a dial the provider never named: nothing to ask about
        .filter(Q(provider_asked_at__isnull=True) | Q(provider_asked_at__lt=now - quiet))
        .select_related("connection", "organization")
        .order_by("last_event_at")
    )
    asked = 0
    for call in candidates[:limit]:
        if provider_class(call.connection.kind).supports(
            Capability.FETCH_CALL_STATE
        ) and call_ask_provider(call=call):
            asked += 1
    return asked


def calls_poll_providers(*, limit: int = 200, seconds: float = 2.0) -> int:
    """The polling loop, for providers that declare `polling` (their webhooks may be lost): each
    call still followed (README "Following calls: session events and polling") is asked once
    per `every`, claimed first so that two runs never ask about one call at once. A run stops
    after `seconds` (beat starts the next one), so polls paced by their provider never keep a
    worker from delivering to Outreach for long. Returns how many calls were asked."""
    now = clock.now()
    stop = time.monotonic() + seconds
    asked = 0
    busy: set[int] = set()  # connections whose provider said to ask later
    for kind in provider_kinds():
        polling = provider_class(kind).polling
        if polling is None or not provider_class(kind).supports(Capability.FETCH_CALL_STATE):
            continue
        recorded = InboxEvent.objects.filter(
            call=OuterRef("pk"), happening=Happening.RECORDING_READY
        )
        followed = (
            Call.objects.filter(connection__kind=kind, first_event_at__gte=now - polling.up_to)
            .exclude(provider_call_id="")
            .exclude(status=CallStatus.FAILED)
            .filter(
                Q(provider_asked_at__isnull=True) | Q(provider_asked_at__lt=now - polling.every)
            )
            .filter(
                Q(final_state="")
                | Q(
                    final_state=OutreachState.COMPLETED,
                    ended_at__gte=now - polling.recording_for,
                )
                & ~Exists(recorded)
            )
            .select_related("connection", "organization")
            # Never asked first (PostgreSQL sorts NULL last otherwise), then the longest unasked.
            .order_by(F("provider_asked_at").asc(nulls_first=True), "first_event_at")
        )
        for call in followed[:limit]:
            if time.monotonic() > stop:
                return asked
            if call.connection_id in busy:
                continue
            claimed = Call.objects.filter(
                pk=call.pk, provider_asked_at=call.provider_asked_at
            ).update(provider_asked_at=now)
            if not claimed:
                continue
            if call_ask_provider(call=call, note_unchanged=False):
                asked += 1
            else:  # not asked after all: the claim is given back, the call keeps its turn
                Call.objects.filter(pk=call.pk, provider_asked_at=now).update(
                    provider_asked_at=call.provider_asked_at
                )
                busy.add(call.connection_id)
    return asked


def call_ask_provider(*, call: Call, note_unchanged: bool = True) -> bool:
    """Ask the provider what it now reports for the call; an error is an answer of "unknown".
    The asking goes on the call's timeline, unless `note_unchanged` is False and nothing new
    came of it (polling asks every few seconds). False when the provider could not be asked
    now (`AskLater`): nothing was asked, nothing is noted."""
    provider = provider_for(call.connection.kind)
    try:
        events = provider.fetch_call_state(call.connection, call.provider_call_id)
    except AskLater:
        return False
    except WebhookRejected as unreadable:
        # The provider answered something we will not guess from (a value it does not
        # document): the call's timeline and Needs attention say so, once.
        _note_unreadable_answer(call, unreadable.reason)
        events = None
    except Exception:  # the provider's trouble must not stop the loop for other calls
        logger.warning("call.provider_ask_failed call=%s", call.pk, exc_info=True)
        events = None
    Call.objects.filter(pk=call.pk).update(provider_asked_at=clock.now())
    stored = inbox_accept(connection=call.connection, events=events).stored if events else 0
    if not stored and not note_unchanged:
        return True
    audit_record(
        action="call.provider_asked",
        organization=call.organization,
        target=call,
        data={
            "answer": "unknown" if events is None else f"{len(events)} event(s)",
            "new_events": stored,
        },
    )
    return True


def _note_unreadable_answer(call: Call, reason: str) -> None:
    note = f"The provider's answer about this call could not be read: {reason}"[:500]
    if Call.objects.filter(pk=call.pk).exclude(attention=note).update(attention=note):
        audit_record(
            action="call.provider_answer_unreadable",
            organization=call.organization,
            target=call,
            data={"reason": reason},
        )


def calls_close_unfinished(*, limit: int = 500) -> int:
    """Close the calls whose provider went quiet before saying how they ended: past their
    organisation's give-up deadline, each gets a closing happening through the inbox like any
    event (completed if anyone answered, otherwise failed, dated at its last event) and is listed
    for a person. Returns how many were closed."""
    now = clock.now()
    closed = 0
    hours_in_use = Organization.objects.values_list("give_up_hours", flat=True).distinct()
    for hours in hours_in_use:
        stale = (
            Call.objects.filter(
                final_state="",
                organization__give_up_hours=hours,
                last_event_at__lt=now - timedelta(hours=hours),
            )
            .exclude(status=CallStatus.FAILED)
            .select_related("connection", "organization")
            .order_by("last_event_at")[:limit]
        )
        for call in stale:
            if _provider_not_asked_yet(call):
                continue  # the reconciliation loop asks first: the provider may know the end
            closed += _close(call, hours=hours)
    return closed


def _provider_not_asked_yet(call: Call) -> bool:
    can_ask = bool(call.provider_call_id) and provider_class(call.connection.kind).supports(
        Capability.FETCH_CALL_STATE
    )
    asked = call.provider_asked_at
    return can_ask and (
        asked is None or (call.last_event_at is not None and asked < call.last_event_at)
    )


def _close(call: Call, *, hours: int) -> int:
    happenings = [
        Happened(key=str(event.pk), kind=Happening(event.happening), at=event.occurred_at)
        for event in call.events.all()
    ]
    closing = give_up_happening(direction=Direction(call.direction), happenings=happenings)
    if closing is None:
        return 0
    happening, at = closing
    outcome = (
        "completed (someone answered)"
        if happening is Happening.ENDED
        else "failed (nobody answered)"
    )
    reason = (
        f"Closed by Callbridge: the provider sent nothing for {hours} h and never said how the "
        f"call ended, so it was closed as {outcome}."
    )
    event = CallEvent(
        dedup_key=f"callbridge:closed:{call.provider_call_id or call.pk}"[:200],
        provider="callbridge",
        provider_call_id=call.provider_call_id,
        outreach_call_id=call.outreach_call_id,  # how a dial the provider never named is found
        direction=Direction(call.direction),
        happening=happening,
        occurred_at=at,
        raw={"closed_by": "Callbridge", "reason": reason},
    )
    accepted = inbox_accept(connection=call.connection, events=[event])
    if not accepted.stored:
        return 0
    with transaction.atomic():
        Call.objects.filter(pk=call.pk).update(attention=reason[:500])
        audit_record(
            action="call.closed_by_callbridge",
            organization=call.organization,
            target=call,
            data={"reason": reason, "happening": str(happening), "at": at.isoformat()},
        )
    logger.warning("call.closed_by_callbridge call=%s happening=%s", call.pk, happening)
    return 1
