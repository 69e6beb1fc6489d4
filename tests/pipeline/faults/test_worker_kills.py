"""Workers killed with SIGKILL mid-delivery, several times in one run. Nothing gets to ack,
reject or requeue: with Redis a lost task would only come back after the visibility timeout (an
hour), so what delivers the rest is the database (the call's lease and due time) and beat's
sweeper.

Each kill lands mid-request by construction, not by timing: the sandbox holds the request until
told, the test kills the very process waiting for it, and only then lets the sandbox apply it
and answer a process that is no longer there (the lost answer)."""

from __future__ import annotations

import os
import signal

from calls.models import AttemptOutcome, DeliveryAttempt
from tests.pipeline.faults.plant import Plant, Processes, children_of, connection_owner, wait_until
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline


def kill_mid_request(pipeline: Pipeline, plant: Plant, *, whole_worker: bool) -> None:
    """Hold the next request to Outreach; once a worker waits for it with its attempt recorded
    in flight, SIGKILL every worker (which are then started again) or the pool child that sent
    it (which its worker replaces; the requeued task finds the call leased and does nothing),
    then release it. All this takes milliseconds, well inside the worker's 2 s timeout; a worker
    that had given up would have closed its connection, and no sender would be found."""
    sandbox = pipeline.sandbox
    sandbox.hold_next(path_prefix="/api/v2")
    wait_until(
        lambda: (
            sandbox.held() == 1
            and DeliveryAttempt.objects.filter(outcome=AttemptOutcome.IN_FLIGHT).exists()
        ),
        timeout=30,
        what="a worker waiting for a held request to Outreach",
    )
    (held,) = sandbox.held_requests()
    # Pool children keep their connection to Outreach open between requests: only the held
    # request's client port says which of them is waiting for it.
    sender = connection_owner(
        [child for worker in plant.workers for child in children_of(worker.pid)],
        local_port=held["clientPort"],
        remote_port=int(sandbox.base_url.rsplit(":", 1)[1]),
    )
    assert sender is not None, f"no pool child is waiting for {held}"
    if whole_worker:
        for index in range(len(plant.workers)):
            plant.kill_worker(index)
    else:
        os.kill(sender, signal.SIGKILL)
    assert sandbox.release_held() == 1
    if whole_worker:
        for index in range(len(plant.workers)):
            plant.start_worker(index)


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
