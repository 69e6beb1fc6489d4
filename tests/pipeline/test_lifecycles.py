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
