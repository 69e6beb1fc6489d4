"""Celery tasks: thin wrappers that hand a call to the pipeline, and the sweeper.

The broker is only a doorbell. What must happen is written in the database (`Call.due_at`), so a
task lost with a killed worker or a restarted broker is re-sent by the sweeper, and a task sent
twice does nothing the second time (the pipeline's lease and `due_at` checks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from celery import shared_task
from django.db.models import Q

from calls.models import Call, CallStatus, call_is_urgent
from calls.pipeline import call_advance
from calls.services import calls_ask_providers, calls_close_unfinished
from portal import clock

logger = logging.getLogger(__name__)

URGENT_QUEUE = "urgent"  # outbound calls whose "initiated" is due within 5 s
DEFAULT_QUEUE = "celery"
# A call due longer than this was not picked up by its own task: the sweeper sends another.
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_BATCH = 1000


def enqueue_call(call_id: int, *, urgent: bool = False, countdown: float | None = None) -> bool:
    """Ring the doorbell; never fail the caller over it (the sweeper is the guarantee).
    False when the broker could not be reached."""
    try:
        advance_call.apply_async(
            (call_id,),
            queue=URGENT_QUEUE if urgent else DEFAULT_QUEUE,
            countdown=countdown,
            retry=False,
        )
    except Exception:  # the broker is away: the sweeper will find the call by its due_at
        logger.warning(
            "could not enqueue call %s; the sweeper will pick it up", call_id, exc_info=True
        )
        return False
    return True


def enqueue_calls(calls: Iterable[tuple[int, bool]]) -> int:
    """Ring for each (call id, urgent) in turn, stopping at the first failure: the broker is
    away, and trying every call would make a webhook wait out one connection attempt per call
    (the fault tests saw 2 s each). The sweeper finds the rest by their due_at."""
    rung = 0
    for call_id, urgent in calls:
        if not enqueue_call(call_id, urgent=urgent):
            break
        rung += 1
    return rung


@shared_task(acks_late=True, ignore_result=True)
def advance_call(call_id: int) -> None:
    call_advance(call_id=call_id)


@shared_task(ignore_result=True)
def sweep_due_calls() -> int:
    now = clock.now()
    # Held calls with a due time wait on something that recovers by itself (the token
    # endpoint); those without wait on a person.
    due = (
        Call.objects.filter(
            status__in=[CallStatus.ACTIVE, CallStatus.HELD], due_at__lte=now - SWEEP_GRACE
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("due_at")
        .only("pk", "direction", "reported_state")[:SWEEP_BATCH]
    )
    count = enqueue_calls((call.pk, call_is_urgent(call)) for call in due)
    if count:
        logger.info("sweeper re-enqueued %s due call(s)", count)
    return count


@shared_task(ignore_result=True)
def close_unfinished_calls() -> int:
    return calls_close_unfinished()


@shared_task(ignore_result=True)
def ask_providers_about_quiet_calls() -> int:
    return calls_ask_providers()
