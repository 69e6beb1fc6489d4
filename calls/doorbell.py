"""Ringing the workers' doorbell: "this call has work", on the urgent or the default queue.

The broker is only a doorbell; what must happen is written in the database (`Call.due_at`) and
the sweeper rings again for anything not picked up. The task is named, not imported, so that the
pipeline, the inbox and the services can ring without importing the tasks that call them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from portal.celery import app

logger = logging.getLogger(__name__)

ADVANCE_CALL_TASK = "calls.tasks.advance_call"
URGENT_QUEUE = "urgent"  # outbound calls whose "initiated" is due within 5 s (call_is_urgent)
DEFAULT_QUEUE = "celery"


def enqueue_call(call_id: int, *, urgent: bool = False, countdown: float | None = None) -> bool:
    """Ring the doorbell; never fail the caller over it (the sweeper is the guarantee).
    False when the broker could not be reached."""
    try:
        app.send_task(
            ADVANCE_CALL_TASK,
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
