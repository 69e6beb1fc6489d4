"""An outbound call's "initiated" goes on the urgent queue however it is enqueued - from the
webhook and again when its first delivery failed - so it never waits behind other calls'
backlog. Only an urgent-queue worker runs here, and no sweeper: a retry sent to the default
queue would never be delivered."""

from __future__ import annotations

import json

import httpx

from calls.models import AttemptOutcome, Call
from tests.pipeline.faults.plant import Processes
from tests.pipeline.helpers import Pipeline, signed_headers, state_of


def test_it_retries_a_failed_initiated_on_the_urgent_queue(
    pipeline: Pipeline, processes: Processes
) -> None:
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    outreach_id = str(launched["id"])
    pipeline.sandbox.fail_next(1, path_prefix=f"/api/v2/calls/{outreach_id}")
    with processes(workers=0, beat=False) as plant:
        plant.start_worker(queues="urgent")
        body = json.dumps(
            {"events": [pipeline.event("urgent-1", "dialling", 0, outreach_call_id=outreach_id)]}
        )
        answer = httpx.post(
            plant.web_url + pipeline.url,
            content=body,
            headers={"Content-Type": "application/json", **signed_headers(pipeline.secret, body)},
        )
        assert answer.status_code == 200, answer.text

        pipeline.wait_for(outreach_id, lambda view: state_of(view) == "initiated", timeout=30)
    outcomes = list(
        Call.objects.get(provider_call_id="urgent-1").attempts.values_list("outcome", flat=True)
    )
    assert outcomes == [AttemptOutcome.TRANSIENT, AttemptOutcome.SUCCEEDED]
