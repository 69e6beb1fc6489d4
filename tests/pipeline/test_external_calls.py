"""Outbound calls that did not start in Outreach (no Outreach call id: a desk phone, the phone
system's own app, a campaign dialer) are logged in Outreach once they end (seed 003 "Log
External Calls"), through the generic webhook, the real worker and the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from calls.models import Call, CallStatus
from calls.services import calls_close_unfinished
from integrations.models import ProviderConnection, UnmatchedProspect
from integrations.outreach.models import OutcomeWords, OutreachOrg
from portal.audit.models import AuditEntry
from tests.pipeline.helpers import Pipeline, eventually

PROSPECT_NUMBER = "+12065550188"
RESULTS = {
    "answered": (["dialling", "ringing", "answered", "ended"], "Answered", "answered"),
    "not answered": (["dialling", "ringing", "not_answered"], "Not Answered", None),
    "rejected": (["dialling", "ringing", "rejected"], "Not Answered", None),
    "voicemail": (
        ["dialling", "ringing", "answered_by_voicemail", "ended"],
        "Answered",
        "answered_by_voicemail",
    ),
}


@pytest.fixture
def logging_on(pipeline: Pipeline) -> Pipeline:
    """Alice's PBX logs calls that did not start in Outreach; settling takes a second."""
    ProviderConnection.objects.filter(pk=pipeline.provider.pk).update(log_external_calls=True)
    pipeline.organization.settle_seconds = 1
    pipeline.organization.save()
    return pipeline


def desk_phone_call(
    pipeline: Pipeline, call_id: str, happenings: list[str]
) -> list[dict[str, Any]]:
    """A call Rita placed from her desk phone: no outreach_call_id, one event every 10 s."""
    return [
        pipeline.event(
            call_id, happening, 10.0 * index, **{"from": "+12065550100", "to": PROSPECT_NUMBER}
        )
        for index, happening in enumerate(happenings)
    ]


def logged_call(call_id: str) -> Call:
    eventually(
        lambda: Call.objects.filter(provider_call_id=call_id, logged_at__isnull=False).exists()
    )
    return Call.objects.get(provider_call_id=call_id)


def creates(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [
        r for r in pipeline.sandbox.requests(path_prefix="/api/v2/calls") if r["method"] == "POST"
    ]


@pytest.mark.parametrize("result", list(RESULTS))
def test_it_logs_each_result_once_with_outcome_times_user_prospect_and_task(
    logging_on: Pipeline, result: str
) -> None:
    pipeline = logging_on
    sandbox = pipeline.sandbox
    prospect = sandbox.create_prospect(first_name="Pat", phone_numbers=[PROSPECT_NUMBER])
    task = sandbox.create_task(pipeline.rep_outreach_id, prospect_id=prospect["id"])
    happenings, outcome, answered_by = RESULTS[result]
    call_id = f"desk-{result.replace(' ', '-')}"
    events = desk_phone_call(pipeline, call_id, happenings)
    pipeline.send(events)
    pipeline.send(events[-1:])  # the provider's retry of the last event changes nothing

    call = logged_call(call_id)
    view = sandbox.call(call.outreach_call_id)
    attributes, relationships = view["call"]["attributes"], view["call"]["relationships"]
    assert attributes["direction"] == "outbound"
    assert attributes["outcome"] == outcome
    assert attributes["vendorCallId"] == call_id
    ended = pipeline.start + timedelta(seconds=10 * (len(happenings) - 1))
    assert attributes["completedAt"] == ended.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    if answered_by:
        answered = pipeline.start + timedelta(seconds=10 * happenings.index(answered_by))
        assert attributes["answeredAt"] == answered.isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        )
    else:
        assert attributes["answeredAt"] is None
    assert relationships["user"]["data"]["id"] == pipeline.rep_outreach_id
    assert relationships["prospect"]["data"]["id"] == prospect["id"]
    assert relationships["task"]["data"]["id"] == task["id"]
    assert [r["status"] for r in creates(pipeline)] == [201]

    eventually(lambda: Call.objects.get(pk=call.pk).status == CallStatus.DONE)
    logged = AuditEntry.objects.get(action="call.logged", target_id=str(call.pk))
    assert logged.data["outcome"] == outcome
    assert any("the only one with the number" in why for why in logged.data["why"])
    assert call.attempts.filter(purpose="log", status_code=201).count() == 1


def test_it_falls_back_once_to_the_guides_words_and_remembers_them(logging_on: Pipeline) -> None:
    pipeline = logging_on
    sandbox = pipeline.sandbox
    sandbox.set_outcome_vocabulary("guide")
    sandbox.create_prospect(first_name="Pat", phone_numbers=[PROSPECT_NUMBER])
    pipeline.send(desk_phone_call(pipeline, "desk-1", ["dialling", "not_answered"]))
    first = logged_call("desk-1")
    assert sandbox.call(first.outreach_call_id)["call"]["attributes"]["outcome"] == "no_answer"
    refused, accepted = creates(pipeline)
    assert (refused["status"], refused["refusedBy"]) == (422, "LOG-OUTCOME")
    assert accepted["status"] == 201
    org = OutreachOrg.objects.get(organization=pipeline.organization)
    assert org.outcome_words == OutcomeWords.GUIDE
    logged = AuditEntry.objects.get(action="call.logged", target_id=str(first.pk))
    assert any("sent again in the guide words" in why for why in logged.data["why"])

    pipeline.send(desk_phone_call(pipeline, "desk-2", ["dialling", "answered", "ended"]))
    second = logged_call("desk-2")
    assert sandbox.call(second.outreach_call_id)["call"]["attributes"]["outcome"] == "completed"
    assert [r["status"] for r in creates(pipeline)] == [422, 201, 201]


def test_it_shows_the_call_in_the_portal_only_when_logging_is_off(pipeline: Pipeline) -> None:
    pipeline.sandbox.create_prospect(first_name="Pat", phone_numbers=[PROSPECT_NUMBER])
    pipeline.send(desk_phone_call(pipeline, "desk-off", ["dialling", "answered", "ended"]))
    eventually(
        lambda: Call.objects.filter(
            provider_call_id="desk-off", status=CallStatus.DONE, final_state="completed"
        ).exists()
    )
    call = Call.objects.get(provider_call_id="desk-off")
    assert call.problem.startswith("Shown here only")
    assert call.logged_at is None and not call.outreach_call_id
    assert creates(pipeline) == []


def test_it_logs_without_a_prospect_or_holds_as_the_connection_says(logging_on: Pipeline) -> None:
    pipeline = logging_on
    pipeline.send(desk_phone_call(pipeline, "desk-nobody", ["dialling", "not_answered"]))
    call = logged_call("desk-nobody")
    view = pipeline.sandbox.call(call.outreach_call_id)
    assert view["call"]["relationships"]["prospect"]["data"] is None

    ProviderConnection.objects.filter(pk=pipeline.provider.pk).update(
        unmatched_prospect=UnmatchedProspect.HOLD
    )
    pipeline.send(desk_phone_call(pipeline, "desk-held", ["dialling", "not_answered"]))
    eventually(
        lambda: Call.objects.filter(provider_call_id="desk-held", status=CallStatus.HELD).exists()
    )
    held = Call.objects.get(provider_call_id="desk-held")
    assert f"no prospect has the number {PROSPECT_NUMBER}" in held.problem
    assert len(creates(pipeline)) == 1


def test_it_holds_a_call_whose_number_matches_several_prospects_when_told(
    logging_on: Pipeline,
) -> None:
    pipeline = logging_on
    ProviderConnection.objects.filter(pk=pipeline.provider.pk).update(
        unmatched_prospect=UnmatchedProspect.HOLD
    )
    for name in ("Pat", "Sam"):
        pipeline.sandbox.create_prospect(first_name=name, phone_numbers=[PROSPECT_NUMBER])
    pipeline.send(desk_phone_call(pipeline, "desk-two", ["dialling", "not_answered"]))
    eventually(
        lambda: Call.objects.filter(provider_call_id="desk-two", status=CallStatus.HELD).exists()
    )
    assert "2 prospects" in Call.objects.get(provider_call_id="desk-two").problem
    assert creates(pipeline) == []


def test_it_holds_a_call_no_agent_took_with_the_reason(logging_on: Pipeline) -> None:
    pipeline = logging_on
    events = desk_phone_call(pipeline, "desk-noagent", ["dialling", "not_answered"])
    for event in events:
        del event["agent"]
    pipeline.send(events)
    eventually(
        lambda: Call.objects.filter(
            provider_call_id="desk-noagent", status=CallStatus.HELD
        ).exists()
    )
    problem = Call.objects.get(provider_call_id="desk-noagent").problem
    assert problem == "The provider did not say which agent took this call."
    assert creates(pipeline) == []


def test_it_shows_a_late_event_after_the_call_was_logged_and_sends_nothing(
    logging_on: Pipeline,
) -> None:
    pipeline = logging_on
    pipeline.send(desk_phone_call(pipeline, "desk-late", ["dialling", "not_answered"]))
    call = logged_call("desk-late")
    pipeline.send([pipeline.event("desk-late", "answered", 5)])
    eventually(lambda: bool(Call.objects.get(pk=call.pk).attention))
    assert "answered" in Call.objects.get(pk=call.pk).attention
    assert len(creates(pipeline)) == 1
    requests = pipeline.sandbox.requests(path_prefix="/api/v2/calls")
    assert not [r for r in requests if r["method"] == "PATCH"], json.dumps(requests)[:2000]


def test_it_finds_a_logged_call_whose_answer_was_lost_instead_of_logging_it_twice(
    logging_on: Pipeline, settings: Any
) -> None:
    pipeline = logging_on
    # The worker gives up after OUTREACH_TIMEOUT_SECONDS; the sandbox answers a second later.
    pipeline.sandbox.hang_next(settings.OUTREACH_TIMEOUT_SECONDS + 1, path_prefix="/api/v2/calls")
    pipeline.send(desk_phone_call(pipeline, "desk-lost", ["dialling", "answered", "ended"]))
    call = logged_call("desk-lost")
    assert [r["status"] for r in creates(pipeline)] == [201]
    assert call.attempts.filter(purpose="log", outcome="unknown").count() == 1
    assert call.attempts.filter(purpose="reconcile", status_code=200).exists()
    logged = AuditEntry.objects.get(action="call.logged", target_id=str(call.pk))
    assert any("found by its vendorCallId" in why for why in logged.data["why"])


def test_it_logs_a_call_that_never_ended_once_callbridge_closes_it(
    logging_on: Pipeline, clock_offset: Callable[[float], None]
) -> None:
    pipeline = logging_on
    pipeline.send(desk_phone_call(pipeline, "desk-quiet", ["dialling", "ringing"]))
    eventually(
        lambda: Call.objects.filter(provider_call_id="desk-quiet", status=CallStatus.DONE).exists()
    )
    assert (
        "once the provider says it has ended"
        in Call.objects.get(provider_call_id="desk-quiet").problem
    )
    assert creates(pipeline) == []

    clock_offset(4 * 3600 + 60)
    assert calls_close_unfinished() == 1
    call = logged_call("desk-quiet")
    attributes = pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]
    assert attributes["outcome"] == "Not Answered"
    assert call.attention.startswith("Closed by Callbridge")


def test_it_fails_the_call_with_outreachs_reason_when_outreach_refuses_the_log(
    logging_on: Pipeline,
) -> None:
    pipeline = logging_on
    pipeline.sandbox.fail_next(
        1,
        path_prefix="/api/v2/calls",
        status=422,
        body={"errors": [{"id": "validationError", "detail": "Prospect is archived."}]},
    )
    pipeline.send(desk_phone_call(pipeline, "desk-refused", ["dialling", "not_answered"]))
    eventually(
        lambda: Call.objects.filter(
            provider_call_id="desk-refused", status=CallStatus.FAILED
        ).exists()
    )
    call = Call.objects.get(provider_call_id="desk-refused")
    assert "Prospect is archived." in call.problem
    assert call.logged_at is None
    assert [r["status"] for r in creates(pipeline)] == [422]
