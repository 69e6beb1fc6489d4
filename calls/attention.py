"""What needs a person, in one place: failed and expired deliveries, held calls with the fix one
click away, refused webhooks by reason, missed deadlines, Outreach connections to reconnect, and
what the latest replays came to."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from calls.models import (
    NEEDS_ATTENTION,
    AttemptOutcome,
    Call,
    CallStatus,
    DeliveryAttempt,
    InboxEvent,
    InboxStatus,
)
from calls.selectors import calls_count
from calls.timeline import OUTREACH_ERRORS, deadline_markers, refusal_in_words
from integrations.models import WebhookReceipt
from integrations.outreach.models import ConnectionStatus, OutreachConnection
from portal import clock
from portal.audit.models import AuditEntry
from portal.tenancy.models import Organization

# How far back refused webhooks and replays are summed up.
RECENT = timedelta(days=7)
# Rows shown per group; each group links to the calls list for all of them.
SHOWN = 20
# Each group is counted up to here ("1000+"): seven counts on one page must stay cheap with a
# million calls, and the calls list counts further.
COUNTED = 1_000


@dataclass(frozen=True)
class Fix:
    label: str
    url: str


def fix_for(call: Call) -> Fix | None:
    """The one click that fixes a held call, when there is one."""
    org = call.organization.slug
    if call.status != CallStatus.HELD:
        return None
    if "not mapped" in call.problem and call.agent:
        kind, value = next(iter(call.agent.items()))
        query = urlencode({"kind": kind, "value": value})
        agents = reverse("agent_mappings", kwargs={"org": org})
        return Fix(f"Map agent {value}", f"{agents}?{query}")
    if "reconnect" in call.problem.lower() or "outreach connection" in call.problem.lower():
        return Fix("Reconnect Outreach", reverse("outreach", kwargs={"org": org}))
    return None


@dataclass
class Group:
    """A kind of trouble: how many calls have it, some of them, and the list of all of them."""

    key: str
    title: str
    explanation: str
    count: int
    more: bool  # more than `count`: the calls list counts further
    calls: list[Call]
    list_query: str  # the calls list's filters for all of them ("" when the list cannot say)


def attention_overview(
    *, organization: Organization, calls: QuerySet[Call], user: Any
) -> dict[str, Any]:
    attention = calls.filter(NEEDS_ATTENTION).select_related("connection", "organization")
    since = clock.now() - RECENT
    expired = (
        InboxEvent.objects.for_organization(organization)
        .filter(status=InboxStatus.EXPIRED, received_at__gte=since)
        .values("call_id")
    )
    groups = [
        _group(
            "failed",
            "Failed deliveries",
            "Outreach refused these calls, or we gave up retrying. Fix the cause, then replay.",
            attention.filter(status=CallStatus.FAILED),
            "status=failed",
        ),
        _group(
            "held",
            "Held calls",
            "Waiting for a person: map the agent or reconnect Outreach, and they go out.",
            attention.filter(status=CallStatus.HELD),
            "status=held",
        ),
        _group(
            "expired",
            "Links too late for Outreach",
            "A recording or voicemail link came after Outreach's 1-hour window and was not sent.",
            calls.filter(pk__in=expired).select_related("connection"),
            "",
        ),
        _group(
            "noted",
            "Noted for a look",
            "Closed by Callbridge, an event that came too late, or still retrying after several "
            "failures.",
            attention.exclude(status__in=[CallStatus.FAILED, CallStatus.HELD]),
            "attention=on",
        ),
    ]
    refusals = refusals_in_words([call.pk for group in groups for call in group.calls])
    for group in groups:
        for call in group.calls:
            call.fix = fix_for(call)  # type: ignore[attr-defined]
            call.explained = refusals.get(call.pk, "")  # type: ignore[attr-defined]
    refused = (
        WebhookReceipt.objects.filter(organization_id=organization.pk, received_at__gte=since)
        .values("reason", "status")
        .annotate(n=Count("id"))
        .order_by("-n")[:SHOWN]
    )
    reconnect = OutreachConnection.objects.for_organization(organization).filter(
        status=ConnectionStatus.NEEDS_REAUTH
    )
    replays = AuditEntry.objects.filter(
        organization_id=organization.pk, action="call.replay", created__gte=since
    ).order_by("-created", "-id")[:SHOWN]
    replayed = {
        str(call.pk): call
        for call in calls.filter(pk__in=[int(entry.target_id) for entry in replays])
    }
    return {
        "groups": groups,
        "refused": list(refused),
        "reconnect": list(reconnect.select_related("user")),
        "replays": [(entry, replayed.get(entry.target_id)) for entry in replays],
        "missed_deadlines": _missed_deadlines(calls.filter(created__gte=since)),
    }


def refusals_in_words(call_ids: list[int]) -> dict[int, str]:
    """Each call's latest refusal by Outreach, in our words with the next step (for the errors
    we can explain: the others' text is the call's problem already)."""
    latest = (
        DeliveryAttempt.objects.filter(
            call_id__in=call_ids,
            outcome=AttemptOutcome.PERMANENT,
            outreach_error_id__in=list(OUTREACH_ERRORS),
        )
        .order_by("call_id", "-started_at", "-id")
        .distinct("call_id")
    )
    return {attempt.call_id: refusal_in_words(attempt) for attempt in latest}


def _group(key: str, title: str, explanation: str, calls: QuerySet[Call], query: str) -> Group:
    shown = list(calls.order_by("-created", "-id")[:SHOWN])
    count, more = (len(shown), False) if len(shown) < SHOWN else calls_count(calls, limit=COUNTED)
    return Group(key, title, explanation, count, more, shown, query)


def _missed_deadlines(calls: QuerySet[Call]) -> list[tuple[Call, list[str]]]:
    """The newest 200 dialled or ended calls that missed one of Outreach's deadlines, with
    which: the same markers their timelines show."""
    recent = list(
        calls.filter(Q(dialled_at__isnull=False) | Q(final_reported_at__isnull=False)).order_by(
            "-created", "-id"
        )[:200]
    )
    events: dict[int, list[InboxEvent]] = defaultdict(list)
    attempts: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    ids = [call.pk for call in recent]
    for event in InboxEvent.objects.filter(call_id__in=ids).order_by("occurred_at", "id"):
        events[event.call_id].append(event)
    for attempt in DeliveryAttempt.objects.filter(call_id__in=ids).order_by("started_at", "id"):
        attempts[attempt.call_id].append(attempt)
    missed = []
    for call in recent:
        markers = deadline_markers(call, events[call.pk], attempts[call.pk])
        names = [marker.title for marker in markers if marker.status == "missed"]
        if names:
            missed.append((call, names))
    return missed[:SHOWN]
