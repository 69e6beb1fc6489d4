"""Writes about calls that people (or other parts of the product) ask for."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction

from calls.events import CallEvent
from calls.inbox import inbox_accept
from calls.models import AgentMapping, Call, CallStatus
from calls.rules import Direction, Happened, Happening, give_up_happening
from portal import clock
from portal.audit.services import audit_record
from portal.tenancy.models import Organization

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def calls_resume(*, organization: Organization, reason: str) -> int:
    """Release the organisation's held calls: what Outreach's window still accepts is sent, the
    rest is marked expired by the rules. Returns how many calls were released."""
    from calls.tasks import enqueue_calls

    with transaction.atomic():
        held = list(
            Call.objects.for_organization(organization)
            .filter(status=CallStatus.HELD)
            .values_list("pk", flat=True)
        )
        Call.objects.filter(pk__in=held).update(
            status=CallStatus.ACTIVE, due_at=clock.now(), problem=""
        )
        if held:
            audit_record(
                action="calls.resume",
                organization=organization,
                data={"calls": len(held), "reason": reason},
            )
        transaction.on_commit(lambda: enqueue_calls((call_id, False) for call_id in held))
    return len(held)


def call_replay(*, call: Call, actor: AbstractBaseUser) -> None:
    """Support's "try again": the pipeline re-plans the call from its happenings and what
    Outreach has, so a replay can never send something twice or backwards. Whose call it is is
    decided again too, so a fixed agent mapping takes effect."""
    from calls.tasks import enqueue_call

    with transaction.atomic():
        Call.objects.filter(pk=call.pk).update(
            status=CallStatus.ACTIVE,
            due_at=clock.now(),
            problem="",
            attention="",
            failures=0,
            outreach_user_id="",
            owner=None,
        )
        audit_record(
            action="call.replay",
            organization=call.organization,
            actor=actor,
            target=call,
            data={"status_before": call.status, "problem": call.problem},
        )
        transaction.on_commit(lambda: enqueue_call(call.pk))


def agent_mapping_delete(*, mapping: AgentMapping, actor: AbstractBaseUser) -> None:
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


def agent_mapping_create(
    *,
    organization: Organization,
    kind: str,
    value: str,
    outreach_user_id: str,
    user: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
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
            closed += _close(call, hours=hours)
    return closed


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
        dedup_key=f"callbridge:closed:{call.provider_call_id}"[:200],
        provider="callbridge",
        provider_call_id=call.provider_call_id,
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
