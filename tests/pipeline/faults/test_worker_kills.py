"""Workers killed with SIGKILL mid-delivery, several times in one run. Nothing gets to ack,
reject or requeue: with Redis a lost task would only come back after the visibility timeout (an
hour), so what delivers the rest is the database (the call's lease and due time) and beat's
sweeper."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from urllib.parse import urlsplit

from django.utils import timezone

from calls.models import AttemptOutcome, DeliveryAttempt
from tests.pipeline.faults.plant import Plant, Processes, children_of, connected_to, wait_until
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline

# Long enough to catch the worker with its request out; shorter than the client's timeout, so
# the sandbox applies the request and answers it, to a worker that is no longer there.
HANG = 1.5
# The sandbox answers in milliseconds: a request out for longer than this is the hanging one.
OUT_FOR = timedelta(seconds=0.5)


def kill_mid_request(pipeline: Pipeline, plant: Plant, *, whole_worker: bool) -> None:
    """Make the next request hang; once it is out, SIGKILL every worker (which are then started
    again) or every pool child holding a connection to the sandbox (which their workers replace;
    the requeued task finds the call leased and does nothing). Workers keep connections to
    Outreach open between requests of a run, so a connection alone does not say which process is
    waiting for the hanging answer: killing all of them is what makes sure that one dies."""
    pipeline.sandbox.hang_next(HANG, count=1, path_prefix="/api/v2")
    wait_until(
        lambda: DeliveryAttempt.objects.filter(
            outcome=AttemptOutcome.IN_FLIGHT, started_at__lt=timezone.now() - OUT_FOR
        ).exists(),
        timeout=30,
        what="a request waiting on the hanging sandbox",
    )
    port = urlsplit(pipeline.sandbox.base_url).port
    if whole_worker:
        for index in range(len(plant.workers)):
            plant.kill_worker(index)
            plant.start_worker(index)
        return
    for worker in plant.workers:
        for child in connected_to(children_of(worker.pid), port):
            os.kill(child, signal.SIGKILL)


def test_it_delivers_everything_once_when_workers_are_killed_mid_delivery(
    pipeline: Pipeline, processes: Processes
) -> None:
    calls = plan_calls(pipeline, 60, seed=6101)
    with processes() as plant:
        provider = provider_for(pipeline, plant, calls, seed=6102, pause=0.2).start()
        batches = len(provider.batches)
        for round, whole_worker in enumerate([True, False, True], start=1):
            provider.wait_for_batches(round * batches // 4)
            kill_mid_request(pipeline, plant, whole_worker=whole_worker)
        provider.finish()
        wait_until_settled(calls, timeout=120)

        report = reconcile(planned=calls, provider=provider, sandbox=pipeline.sandbox)
        print(report)
        lost = DeliveryAttempt.objects.filter(
            outcome=AttemptOutcome.UNKNOWN, error__startswith="The worker stopped"
        )
        assert lost.count() >= 3, report  # every round killed the process with a request out
        assert "sweeper re-enqueued" in plant.logs(), report
        assert report.clean, report
