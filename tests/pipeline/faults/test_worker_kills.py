"""Workers killed with SIGKILL mid-delivery, several times in one run. Nothing gets to ack,
reject or requeue: with Redis a lost task would only come back after the visibility timeout (an
hour), so what delivers the rest is the database (the call's lease and due time) and beat's
sweeper."""

from __future__ import annotations

import os
import signal
from urllib.parse import urlsplit

from calls.models import AttemptOutcome, DeliveryAttempt
from tests.pipeline.faults.plant import Plant, Processes
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline

# Long enough to catch the worker with its request out; shorter than the client's timeout, so
# the sandbox applies the request and answers it, to a worker that is no longer there.
HANG = 1.5


def kill_mid_request(pipeline: Pipeline, plant: Plant, *, whole_worker: bool) -> None:
    """Make the next request hang; SIGKILL the worker that sent it while it waits for the answer:
    the whole worker (which is then started again) or only its pool child (which the worker
    replaces; the worker requeues the task, which finds the call leased and does nothing)."""
    pipeline.sandbox.hang_next(HANG, count=1, path_prefix="/api/v2")
    port = urlsplit(pipeline.sandbox.base_url).port
    index, child = plant.worker_mid_request(port)
    if whole_worker:
        plant.kill_worker(index)
        plant.start_worker(index)
    else:
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
        assert lost.count() >= 3, report  # every kill caught a request in flight
        assert "sweeper re-enqueued" in plant.logs(), report
        assert report.clean, report
