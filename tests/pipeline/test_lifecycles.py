"""Whole calls through the real pipeline: webhook -> inbox -> worker -> Outreach (the sandbox)."""

from __future__ import annotations

from calls.models import Call, InboxEvent
from tests.pipeline.helpers import Pipeline, eventually, refusals, state_of


def test_it_reports_an_outbound_call_from_dial_to_recording(pipeline: Pipeline) -> None:
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    outreach_id = str(launched["id"])
    extra = {"outreach_call_id": outreach_id, "to": "+12065550100"}
    pipeline.send([pipeline.event("pbx-1", "dialling", 0, **extra)])
    view = pipeline.wait_for(outreach_id, lambda v: state_of(v) == "initiated")
    assert view["launch"]["initiatedWithin5s"] is True
    # Outreach created the call; it learns the provider's id from our first update.
    assert view["call"]["attributes"]["vendorCallId"] == "pbx-1"

    pipeline.send(
        [
            pipeline.event("pbx-1", "ringing", 1, **extra),
            pipeline.event("pbx-1", "answered", 5, **extra),
            pipeline.event("pbx-1", "ended", 65, **extra),
            pipeline.event(
                "pbx-1", "recording_ready", 70, link="https://rec.example/pbx-1.mp3", **extra
            ),
        ]
    )
    view = pipeline.wait_for(
        outreach_id, lambda v: v["call"]["attributes"].get("recordingUrl") is not None
    )
    attributes = view["call"]["attributes"]
    assert (attributes["state"], attributes["recordingUrl"]) == (
        "completed",
        "https://rec.example/pbx-1.mp3",
    )
    accepted = [h["stateAfter"] for h in view["history"] if h["outcome"] == "accepted"]
    assert accepted[0] == "initiated" and "completed" in accepted
    assert refusals(pipeline.sandbox) == []
    eventually(lambda: Call.objects.get(provider_call_id="pbx-1").status == "done")
    assert Call.objects.get(provider_call_id="pbx-1").reported_state == "completed"
    assert set(InboxEvent.objects.values_list("status", flat=True)) == {"applied"}


def test_it_creates_an_inbound_call_for_the_matching_prospect_and_adds_its_recording(
    pipeline: Pipeline,
) -> None:
    prospect = pipeline.sandbox.create_prospect(first_name="Pat", phone_numbers=["+14155550123"])
    numbers = {"direction": "inbound", "from": "(415) 555-0123", "to": "+12065550100"}
    pipeline.send(
        [
            pipeline.event("in-1", "ringing", 0, **numbers),
            pipeline.event("in-1", "answered", 4, **numbers),
            pipeline.event("in-1", "ended", 60, **numbers),
            pipeline.event(
                "in-1", "recording_ready", 61, link="https://rec.example/in-1.mp3", **numbers
            ),
        ]
    )
    eventually(lambda: Call.objects.get(provider_call_id="in-1").status == "done")
    call = Call.objects.get(provider_call_id="in-1")
    view = pipeline.sandbox.call(call.outreach_call_id)
    resource = view["call"]
    assert resource["attributes"]["direction"] == "inbound"
    assert resource["attributes"]["from"] == "+14155550123"  # E.164 in the org's region (US)
    assert resource["attributes"]["vendorCallId"] == "in-1"
    assert resource["attributes"]["state"] == "completed"
    assert resource["attributes"]["recordingUrl"] == "https://rec.example/in-1.mp3"
    assert resource["relationships"]["prospect"]["data"]["id"] == prospect["id"]
    assert resource["relationships"]["user"]["data"]["id"] == pipeline.rep_outreach_id
    creates = [
        r for r in pipeline.sandbox.requests(path_prefix="/api/v2/calls") if r["method"] == "POST"
    ]
    assert len(creates) == 1
    assert refusals(pipeline.sandbox) == []


def test_it_leaves_an_inbound_voicemail_on_a_call_nobody_answered(pipeline: Pipeline) -> None:
    numbers = {"direction": "inbound", "from": "+14155550199", "to": "+12065550100"}
    pipeline.send(
        [
            pipeline.event("in-2", "ringing", 0, **numbers),
            pipeline.event("in-2", "not_answered", 30, **numbers),
            pipeline.event(
                "in-2", "voicemail_left", 90, link="https://vm.example/in-2.mp3", **numbers
            ),
        ]
    )
    eventually(lambda: Call.objects.get(provider_call_id="in-2").status == "done")
    attributes = pipeline.sandbox.call(Call.objects.get(provider_call_id="in-2").outreach_call_id)[
        "call"
    ]["attributes"]
    assert attributes["state"] == "no answer"
    assert attributes["voicemailRecordingUrl"] == "https://vm.example/in-2.mp3"
    assert refusals(pipeline.sandbox) == []


def test_it_holds_a_call_whose_agent_is_not_mapped_and_resumes_once_mapped(
    pipeline: Pipeline,
) -> None:
    from calls.services import agent_mapping_create

    numbers = {
        "direction": "inbound",
        "from": "+14155550188",
        "to": "+12065550100",
        "agent": {"extension": "4711"},
    }
    pipeline.send(
        [
            pipeline.event("in-3", "ringing", 0, **numbers),
            pipeline.event("in-3", "rejected", 3, **numbers),
        ]
    )
    eventually(lambda: Call.objects.get(provider_call_id="in-3").status == "held")
    assert "extension 4711" in Call.objects.get(provider_call_id="in-3").problem
    agent_mapping_create(
        organization=pipeline.organization,
        kind="extension",
        value="4711",
        outreach_user_id=str(pipeline.rep_outreach_id),
    )
    eventually(lambda: Call.objects.get(provider_call_id="in-3").status == "done")
    call = Call.objects.get(provider_call_id="in-3")
    assert pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]["state"] == "busy"
