"""Celery tasks: thin wrappers that hand a call to the pipeline, and the sweeper.

The broker is only a doorbell. What must happen is written in the database (`Call.due_at`), so a
task lost with a killed worker or a restarted broker is re-sent by the sweeper, and a task sent
twice does nothing the second time (the pipeline's lease and `due_at` checks).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q

from calls.dialling.outcomes import dials_settle_unconfirmed
from calls.doorbell import ADVANCE_CALL_TASK, enqueue_calls
from calls.models import Call, CallStatus, call_is_urgent
from calls.pipeline import call_advance
from calls.services import calls_ask_providers, calls_close_unfinished, calls_poll_providers
from portal import clock

logger = logging.getLogger(__name__)

# A call due longer than this was not picked up by its own task: the sweeper sends another.
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_BATCH = 1000


@shared_task(name=ADVANCE_CALL_TASK, acks_late=True, ignore_result=True)
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


@shared_task(ignore_result=True)
def poll_providers() -> int:
    return calls_poll_providers()


@shared_task(ignore_result=True)
def settle_unconfirmed_dials() -> int:
    return dials_settle_unconfirmed()
