"""Every row of the seed's final-state table, as a call through the whole pipeline, and a crowd
of calls whose events arrive shuffled and repeated."""

from __future__ import annotations

import random

import pytest

from calls.models import Call
from tests.pipeline.helpers import Pipeline, eventually, refusals
from tests.pipeline.scenarios import TABLE, planned_call


def outreach_view(pipeline: Pipeline, provider_call_id: str) -> dict:
    call = Call.objects.get(provider_call_id=provider_call_id)
    return pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]


@pytest.mark.parametrize("row", TABLE, ids=[f"{row[0]}: {row[1]}" for row in TABLE])
def test_it_ends_each_row_of_the_table_in_its_final_state(pipeline: Pipeline, row: tuple) -> None:
    planned = planned_call(pipeline, 0, row, rng=random.Random(1))
    pipeline.send(planned.events)
    eventually(lambda: Call.objects.get(provider_call_id=planned.provider_call_id).status == "done")
    attributes = outreach_view(pipeline, planned.provider_call_id)
    assert attributes["state"] == planned.final_state
    assert attributes.get("voicemailRecordingUrl") == (planned.voicemail or None)
    assert attributes.get("recordingUrl") == (planned.recording or None)
    assert refusals(pipeline.sandbox) == []


def test_it_delivers_200_shuffled_and_repeated_calls_exactly_as_the_table_says(
    pipeline: Pipeline,
) -> None:
    rng = random.Random(20261123)
    calls = [planned_call(pipeline, i, TABLE[i % len(TABLE)], rng=rng) for i in range(200)]
    arrivals = []
    for planned in calls:
        events = list(planned.events)
        events += rng.sample(events, k=max(1, len(events) // 5))  # 20% repeated
        rng.shuffle(events)
        arrivals.extend(events)
    # Calls interleave as they would on a busy PBX; batches of a few events per request.
    rng.shuffle(arrivals)
    for start in range(0, len(arrivals), 7):
        pipeline.send(arrivals[start : start + 7])

    eventually(lambda: Call.objects.exclude(status="done").count() == 0, timeout=120)
    wrong = {}
    for planned in calls:
        attributes = outreach_view(pipeline, planned.provider_call_id)
        seen = (
            attributes["state"],
            attributes.get("recordingUrl"),
            attributes.get("voicemailRecordingUrl"),
        )
        expected = (planned.final_state, planned.recording or None, planned.voicemail or None)
        if seen != expected:
            wrong[planned.provider_call_id] = (seen, expected)
    assert wrong == {}
    log = pipeline.sandbox.requests(path_prefix="/api/v2")
    assert [r for r in log if r["status"] >= 400] == []  # no backward step, nothing refused
    creates = [r for r in log if r["method"] == "POST" and r["path"] == "/api/v2/calls"]
    inbound = sum(1 for planned in calls if planned.direction == "inbound")
    assert len(creates) == inbound  # no duplicate creates
