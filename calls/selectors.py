"""Reads about calls: who may see which, the calls list's search, filters and pages, and what
needs a person. One call's timeline is `calls.timeline`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from calls.models import NEEDS_ATTENTION, Call, CallStatus

# Re-exported: callers read one call's timeline from here too.
from calls.timeline import TimelineEntry as TimelineEntry
from calls.timeline import call_timeline as call_timeline
from integrations.models import ProviderConnection, WebhookRefusalTally
from integrations.outreach.models import OutreachConnection
from portal import clock
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
class CallFilters:
    """What the calls list was asked for (calls.forms.CallFilterForm reads it from the URL)."""

    # A search: the phone number (as each form it may be stored in) at either end, or the
    # provider's or Outreach's call id; a call matching any of them is found.
    phones: tuple[str, ...] = ()
    call_id: str = ""
    direction: str = ""
    status: str = ""
    connection_id: int | None = None
    outreach_user_id: str = ""
    needs_attention: bool = False
    since: datetime | None = None
    until: datetime | None = None


def calls_filtered(calls: QuerySet[Call], filters: CallFilters) -> QuerySet[Call]:
    """Each filter is an equality on an indexed column (or the needs-attention partial index),
    so every combination stays fast on a million calls: no substring search."""
    if filters.call_id:
        found = Q(provider_call_id=filters.call_id) | Q(outreach_call_id=filters.call_id)
        if filters.phones:
            found |= Q(from_number__in=filters.phones) | Q(to_number__in=filters.phones)
        calls = calls.filter(found)
    if filters.direction:
        calls = calls.filter(direction=filters.direction)
    if filters.status:
        calls = calls.filter(status=filters.status)
    if filters.connection_id is not None:
        calls = calls.filter(connection_id=filters.connection_id)
    if filters.outreach_user_id:
        calls = calls.filter(outreach_user_id=filters.outreach_user_id)
    if filters.needs_attention:
        calls = calls.filter(NEEDS_ATTENTION)
    if filters.since is not None:
        calls = calls.filter(created__gte=filters.since)
    if filters.until is not None:
        calls = calls.filter(created__lt=filters.until)
    return calls


@dataclass(frozen=True)
class CallsPage:
    calls: list[Call]
    older: str  # the cursor of the next (older) page, empty on the last
    newer: str  # the cursor of the previous (newer) page, empty on the first


def cursor_of(call: Call) -> str:
    return f"{call.created.isoformat()}_{call.pk}"


def cursor_parse(cursor: str) -> tuple[datetime, int] | None:
    """A cursor from the URL, or None when it is not one of ours (a stale or edited link)."""
    moment, _, pk = cursor.rpartition("_")
    try:
        return datetime.fromisoformat(moment), int(pk)
    except ValueError:
        return None


def calls_page(calls: QuerySet[Call], *, size: int, after: str = "", before: str = "") -> CallsPage:
    """Newest first, by keyset on (created, id): any page costs as little as the first."""
    older_than, newer_than = cursor_parse(after) if after else None, None
    if before and not after:
        newer_than = cursor_parse(before)
    if newer_than is not None:
        created, pk = newer_than
        rows = list(
            calls.filter(Q(created__gt=created) | Q(created=created, pk__gt=pk)).order_by(
                "created", "id"
            )[: size + 1]
        )
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return CallsPage(
            rows,
            older=cursor_of(rows[-1]) if rows else "",
            newer=cursor_of(rows[0]) if rows and more_newer else "",
        )
    if older_than is not None:
        created, pk = older_than
        calls = calls.filter(Q(created__lt=created) | Q(created=created, pk__lt=pk))
    rows = list(calls.order_by("-created", "-id")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    return CallsPage(
        rows,
        older=cursor_of(rows[-1]) if rows and more_older else "",
        newer=cursor_of(rows[0]) if rows and older_than is not None else "",
    )


# Counts of calls (the list's, the dashboard's) are exact up to here, "more than" beyond: an exact
# count of a million rows would cost more than the page it sits on.
COUNT_LIMIT = 10_000


def calls_count(calls: QuerySet[Call], *, limit: int) -> tuple[int, bool]:
    """How many calls match, counted up to `limit`, and whether there are more."""
    counted = calls.order_by()[: limit + 1].count()
    return min(counted, limit), counted > limit


def calls_needing_attention(calls: QuerySet[Call]) -> QuerySet[Call]:
    """Held, failed, closed by Callbridge, an event that came too late, or still retrying after
    several failures: each with its problem or last error."""
    return calls.filter(NEEDS_ATTENTION)


def dashboard_figures(
    *, organization: Organization, membership: Membership | None, user: Any
) -> dict:
    """What an organisation's dashboard shows: how its calls are doing, and what needs a person.
    Platform staff also see every Outreach connection whose token endpoint is failing."""
    calls = calls_visible(organization=organization, membership=membership)
    total = calls_count(calls, limit=COUNT_LIMIT)
    # Up to date but not over (Outreach has `ringing`, say): not to be read as finished. Such a
    # call is from the past day (a silent call is given up long before), which keeps it cheap.
    ongoing = calls_count(
        calls.filter(
            status=CallStatus.DONE,
            final_state="",
            created__gte=clock.now() - timedelta(days=1),
        ),
        limit=COUNT_LIMIT,
    )
    figures = []
    for status, label in CallStatus.choices:
        count, more = calls_count(calls.filter(status=status), limit=COUNT_LIMIT)
        if status == CallStatus.DONE:
            figures.append((status, label, count - (0 if more else ongoing[0]), more))
            figures.append((status, "Up to date, still in progress", *ongoing))
        else:
            figures.append((status, label, count, more))
    troubled = OutreachConnection.objects.exclude(token_error="").select_related("organization")
    if not user.is_staff:
        troubled = troubled.filter(organization=organization)
    return {
        "calls_total": total[0],
        "calls_total_more": total[1],
        "calls_by_status": [figure for figure in figures if figure[2]],
        "needs_attention": calls_needing_attention(calls).order_by("-created")[:10],
        "token_trouble": troubled.order_by("token_error_since")[:20],
        # Requests that matched no connection, counted per day: platform staff only.
        "refusal_tallies": WebhookRefusalTally.objects.all()[:21] if user.is_staff else [],
        "providers": ProviderConnection.objects.for_organization(organization).count(),
        "outreach_connections": OutreachConnection.objects.for_organization(organization),
    }
