"""The connection's share of the platform's request limit, held in the database so that every
web process and worker keeps to it together (the platform allows about 10 requests per second
per customer, shared with the customer's other integrations; README "Google CCAI Platform").

Each request takes the connection's next free slot and moves it on by the connection's interval
(1 / `requests_per_second`), under the row's lock: however many processes ask at once, slots
are handed out one interval apart. A 429 moves the next free slot to its `Retry-After`.

Placing a call goes before polling: a dial takes the next slot however far ahead it is (within
its deadline) and waits for it, while a poll takes a slot only when one is free now - so a dial
never waits behind a queue of polls, only behind at most one, and polls wait for dials.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from integrations.ccai.models import CcaiPace
from integrations.models import ProviderConnection

# How far ahead a poll may take a slot: about one interval, so polls keep the pace but never
# book the future a dial will need.
POLL_LOOKAHEAD = timedelta(milliseconds=200)


def pace_for_dial(
    connection: ProviderConnection, *, interval: timedelta, deadline: datetime
) -> bool:
    """Wait for the connection's next slot; False (nothing taken) when it comes after
    `deadline`."""
    return _take(connection, interval=interval, latest=deadline)


def pace_for_poll(connection: ProviderConnection, *, interval: timedelta) -> bool:
    """Take a slot if one is free now (waiting at most POLL_LOOKAHEAD); False otherwise."""
    return _take(connection, interval=interval, latest=timezone.now() + POLL_LOOKAHEAD)


def pace_hold(connection: ProviderConnection, *, seconds: float) -> None:
    """The platform answered 429: nobody asks it again for `seconds`."""
    until = timezone.now() + timedelta(seconds=seconds)
    with transaction.atomic():
        pace = _locked(connection)
        if pace.next_free_at < until:
            pace.next_free_at = until
            pace.save(update_fields=["next_free_at"])


def _take(connection: ProviderConnection, *, interval: timedelta, latest: datetime) -> bool:
    with transaction.atomic():
        pace = _locked(connection)
        now = timezone.now()
        slot = max(now, pace.next_free_at)
        if slot > latest:
            return False
        pace.next_free_at = slot + interval
        pace.save(update_fields=["next_free_at"])
    wait = (slot - timezone.now()).total_seconds()
    if wait > 0:
        time.sleep(wait)
    return True


def _locked(connection: ProviderConnection) -> CcaiPace:
    pace, _ = CcaiPace.objects.select_for_update().get_or_create(
        connection=connection, defaults={"next_free_at": timezone.now()}
    )
    return pace
