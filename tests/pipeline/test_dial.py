"""A dial through the real portal (gunicorn), the real worker and the sandbox: `initiated` goes
out through the pipeline without waiting for the phone system, one Outreach call id is one
call however many times and ways it arrives, and every way a call is not placed ends `failed`
in Outreach with the reason for the rep."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from calls.models import Call
from calls.tasks import settle_unconfirmed_dials
from tests.dialling.helpers import portal_server
from tests.pipeline.dialling import DialFlow, dial_flow
from tests.pipeline.helpers import Pipeline, eventually, refusals, state_of


@pytest.fixture
def flow(pipeline: Pipeline) -> Iterator[DialFlow]:
    with dial_flow(pipeline) as running:
        yield running


def states_sent(view: dict) -> list[str]:
    return [
        event["attributes"]["state"]
        for event in view["history"]
        if event["outcome"] == "accepted" and event["attributes"].get("state")
    ]


def test_initiated_goes_out_while_the_phone_system_is_still_answering(flow: DialFlow) -> None:
    call_id = flow.launch()
    flow.phone.answer_next(201, delay=3.0)
    answers: list = []
    dialling = threading.Thread(target=lambda: answers.append(flow.dial(call_id)))
    dialling.start()

    view = flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "initiated", timeout=5)
    assert dialling.is_alive(), "initiated waited for the phone system's answer"
    assert view["launch"]["initiatedWithin5s"] is True
    dialling.join()
    assert answers[0].status_code == 201
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "ringing")  # the phone's webhook
    assert refusals(flow.pipeline.sandbox) == []


def test_a_refused_dial_is_failed_in_outreach_with_the_reason_for_the_rep(flow: DialFlow) -> None:
    call_id = flow.launch()
    flow.phone.answer_next(409, {"error": "Agent rita@pbx.example is on another call"})
    before = timezone.now()
    answer = flow.dial(call_id)
    after = timezone.now()

    assert (answer.status_code, answer.json()["error"]) == (
        422,
        "Your phone system refused the call: Agent rita@pbx.example is on another call",
    )
    view = flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "failed", timeout=20)
    assert states_sent(view) == ["initiated", "failed"]
    failed_at = datetime.fromisoformat(view["call"]["attributes"]["stateChangedAt"])
    assert before - timedelta(seconds=1) <= failed_at <= after + timedelta(seconds=1)
    assert flow.status(call_id)["status"] == "failed"
    assert refusals(flow.pipeline.sandbox) == []


def test_a_call_id_of_another_outreach_org_is_refused_by_outreach_and_the_rep_told(
    flow: DialFlow,
) -> None:
    sandbox = flow.pipeline.sandbox
    elsewhere = sandbox.create_org("Someone else's org")
    stranger = sandbox.create_user("sam@else.example", org_guid=elsewhere["guid"])
    call_id = str(sandbox.launch_call(stranger["id"], "+12065550100")["id"])
    flow.phone.auto_events = ()  # (its events would only set the call going again: 404 again)

    assert flow.dial(call_id).status_code == 201  # the phone system could place it

    eventually(lambda: Call.objects.get(outreach_call_id=call_id).status == "failed")
    problem = flow.status(call_id)["outreach"]["problem"]
    assert problem.startswith(
        f"Outreach does not know call {call_id} in this organisation's Outreach org (404"
    )
    assert problem.endswith("it may belong to another Outreach org.")


def test_one_call_id_is_one_call_however_many_times_and_ways_it_arrives(flow: DialFlow) -> None:
    call_id = flow.launch()
    # The phone system reports the call before it answers the dial: its webhook races the
    # dial's own record, and eight copies of the dial race each other.
    flow.phone.events_before_answer = True
    start = threading.Barrier(8)

    def dial_once(_: int) -> int:
        start.wait()
        return flow.dial(call_id).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(dial_once, range(8)))

    assert codes.count(201) == 1 and set(codes) <= {200, 201, 202}, codes
    assert len(flow.phone.dials) == 1 and list(flow.phone.calls) == ["ps-1"]
    [call] = Call.objects.filter(outreach_call_id=call_id)
    assert call.provider_call_id == "ps-1" and call.dial_status == "placed"
    eventually(lambda: call.events.count() == 3)  # our dialling, the phone's dialling, ringing
    view = flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "ringing")
    assert states_sent(view) == ["initiated", "ringing"]
    assert view["launch"]["initiatedWithin5s"] is True
    assert refusals(flow.pipeline.sandbox) == []


def test_a_phone_system_that_never_answers_is_not_asked_again_and_the_call_fails(
    flow: DialFlow,
) -> None:
    call_id = flow.launch()
    flow.phone.auto_events = ()  # it never reports the call either
    flow.phone.answer_next(201, delay=3.0)
    with portal_server(DIAL_DEADLINE_SECONDS="1") as impatient:
        answer = flow.dial(call_id, web=impatient)
    assert (answer.status_code, answer.json()["status"]) == (202, "unconfirmed")
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "initiated")

    # Its wait (DIAL_CONFIRM_SECONDS) is over; beat's sweep runs on the real worker.
    Call.objects.filter(outreach_call_id=call_id).update(dial_confirm_by=timezone.now())
    settle_unconfirmed_dials.delay()

    view = flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "failed", timeout=30)
    assert states_sent(view) == ["initiated", "failed"]
    assert len(flow.phone.dials) == 1  # asked once, never again
    status = flow.status(call_id)
    assert status["status"] == "failed"
    assert status["detail"].endswith("It reported nothing about the call within 30 s.")
