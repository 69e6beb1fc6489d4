"""Reads about calls: who may see which, and one call's timeline for support staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from calls.models import Call, CallStatus, InboxEvent
from integrations.models import ProviderConnection, WebhookRefusalTally
from integrations.outreach.models import OutreachConnection
from portal.audit.models import AuditEntry
from portal.tenancy.models import Membership, Organization, Role


def calls_visible(*, organization: Organization, membership: Membership | None) -> QuerySet[Call]:
    """Admins, support and platform staff see every call; a rep sees their own: those mapped to
    them, or to the Outreach user they connected."""
    calls = Call.objects.for_organization(organization)
    if membership is None or membership.role != Role.MEMBER:
        return calls
    outreach_ids = (
        OutreachConnection.objects.for_organization(organization)
        .filter(user=membership.user)
        .values_list("outreach_user_id", flat=True)
    )
    return calls.filter(Q(owner=membership.user) | Q(outreach_user_id__in=list(outreach_ids)))


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # event, attempt, audit
    title: str
    detail: str
    status: str
    data: Any = None


def _milliseconds(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-3]


def _event_title(event: InboxEvent) -> str:
    title = f"{event.happening} (happened {_milliseconds(event.occurred_at)})"
    agent = event.normalised.get("agent") or {}
    if agent:  # who had the call at this point: a transfer shows as another agent
        title += " · agent " + ", ".join(f"{kind} {value}" for kind, value in agent.items())
    if event.normalised.get("provider") == "callbridge":
        # Recorded by Callbridge itself: a rep's dial, its failure, or a call closed for silence.
        raw = event.raw if isinstance(event.raw, dict) else {}
        title += " · " + (
            f"by Callbridge: {raw['note']}" if raw.get("note") else "closed by Callbridge"
        )
    return title


def call_timeline(*, call: Call) -> list[TimelineEntry]:
    """What the provider told us, what the rules made of it, and what we told Outreach."""
    entries = [
        TimelineEntry(
            at=event.received_at,
            kind="event",
            title=_event_title(event),
            detail=event.reason,
            status=event.status
            + (f", repeated {event.duplicates} times" if event.duplicates else ""),
            data={"normalised": event.normalised, "raw": event.raw},
        )
        for event in call.events.all()
    ]
    entries += [
        TimelineEntry(
            at=attempt.started_at,
            kind="attempt",
            title=f"{attempt.method} {attempt.path}",
            detail=attempt.error or (attempt.outreach_error_id or ""),
            status=f"{attempt.status_code or 'no answer'} · {attempt.get_outcome_display()}"
            + (f" · {attempt.duration_ms} ms" if attempt.duration_ms is not None else ""),
            data={
                "request": attempt.request_body,
                "response": attempt.response_body,
                "attempt": attempt.attempt,
            },
        )
        for attempt in call.attempts.all()
    ]
    audit = AuditEntry.objects.filter(
        organization_id=call.organization_id, target_type=Call._meta.label, target_id=str(call.pk)
    )
    entries += [
        TimelineEntry(
            at=entry.created,
            kind="audit",
            title=entry.action,
            detail=entry.actor_label,
            status="",
            data=entry.data,
        )
        for entry in audit
    ]
    return sorted(entries, key=lambda entry: entry.at)


# Failed attempts in a row after which a call that is still retrying is shown to a person.
RETRIES_WORTH_A_LOOK = 3


def calls_needing_attention(calls: QuerySet[Call]) -> QuerySet[Call]:
    """Held, failed, closed by Callbridge, an event that came too late, or still retrying after
    several failures: each with its problem or last error."""
    return calls.filter(
        Q(status__in=[CallStatus.HELD, CallStatus.FAILED])
        | ~Q(attention="")
        | Q(failures__gte=RETRIES_WORTH_A_LOOK)
    )


def dashboard_figures(
    *, organization: Organization, membership: Membership | None, user: Any
) -> dict:
    """What an organisation's dashboard shows: how its calls are doing, and what needs a person.
    Platform staff also see every Outreach connection whose token endpoint is failing."""
    calls = calls_visible(organization=organization, membership=membership)
    by_status = dict(calls.values_list("status").annotate(n=Count("id")).order_by())
    troubled = OutreachConnection.objects.exclude(token_error="").select_related("organization")
    if not user.is_staff:
        troubled = troubled.filter(organization=organization)
    return {
        "calls_total": sum(by_status.values()),
        "calls_by_status": by_status,
        "needs_attention": calls_needing_attention(calls).order_by("-created")[:10],
        "token_trouble": troubled.order_by("token_error_since")[:20],
        # Requests that matched no connection, counted per day: platform staff only.
        "refusal_tallies": WebhookRefusalTally.objects.all()[:21] if user.is_staff else [],
        "providers": ProviderConnection.objects.for_organization(organization).count(),
        "outreach_connections": OutreachConnection.objects.for_organization(organization),
    }
