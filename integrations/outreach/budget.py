"""The per-user hourly request budget, shared by every worker through the database.

Outreach allows 10,000 requests per user per hour and answers 429 beyond that (seeds/README.md).
Each request first spends one unit of its user's budget for the current clock hour with a single
atomic upsert; Outreach's own X-RateLimit-Remaining and a 429's Retry-After then correct our
count, since Outreach's window need not start on the hour.

A budget belongs to one Outreach user *of one Outreach org*: Outreach's user ids are small
integers counted per org, so "user 1" exists in most orgs, and keying by the user id alone let
one tenant's traffic or 429 hold back every other tenant's user 1.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from integrations.outreach.errors import OutreachRateLimited
from integrations.outreach.models import OutreachRateWindow

HOURLY_LIMIT = 10_000
WINDOW = timedelta(hours=1)
_TABLE = OutreachRateWindow._meta.db_table

_SPEND = f"""
INSERT INTO {_TABLE} (outreach_org_id, outreach_user_id, window_start, used)
VALUES (%s, %s, %s, 1)
ON CONFLICT (outreach_org_id, outreach_user_id, window_start)
DO UPDATE SET used = {_TABLE}.used + 1
RETURNING used, blocked_until
"""  # noqa: S608 - the table name is ours, the values are parameters


def _window_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def budget_spend(
    *, outreach_org_id: str, outreach_user_id: str, now: datetime | None = None
) -> None:
    """Count one request, or raise OutreachRateLimited (transient) if the budget is spent."""
    now = now or timezone.now()
    start = _window_start(now)
    with connection.cursor() as cursor:
        cursor.execute(_SPEND, [outreach_org_id, outreach_user_id, start])
        used, blocked_until = cursor.fetchone()
    if blocked_until is not None and blocked_until > now:
        wait = (blocked_until - now).total_seconds()
    elif used > HOURLY_LIMIT:
        wait = (start + WINDOW - now).total_seconds()
    else:
        return
    raise OutreachRateLimited(
        f"The hourly Outreach budget of user {outreach_user_id} is spent.",
        retry_after=max(1.0, wait),
        detail="Held back by Callbridge before reaching Outreach.",
    )


def budget_observe(
    *,
    outreach_org_id: str,
    outreach_user_id: str,
    remaining: int | None = None,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> None:
    """Align the shared count with what Outreach reported in its rate-limit headers."""
    now = now or timezone.now()
    start = _window_start(now)
    if remaining is not None:
        used_at_least = max(0, HOURLY_LIMIT - remaining)
        OutreachRateWindow.objects.filter(
            outreach_org_id=outreach_org_id,
            outreach_user_id=outreach_user_id,
            window_start=start,
            used__lt=used_at_least,
        ).update(used=used_at_least)
    if retry_after is not None:
        OutreachRateWindow.objects.update_or_create(
            outreach_org_id=outreach_org_id,
            outreach_user_id=outreach_user_id,
            window_start=start,
            defaults={"blocked_until": now + timedelta(seconds=retry_after)},
        )


def budget_prune(*, now: datetime | None = None) -> int:
    """Forget windows that ended more than an hour ago."""
    now = now or timezone.now()
    deleted, _ = OutreachRateWindow.objects.filter(
        window_start__lt=_window_start(now) - WINDOW
    ).delete()
    return deleted
