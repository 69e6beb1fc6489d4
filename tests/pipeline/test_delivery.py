"""Delivery when Outreach is not well: errors, rate limits, refusals, expired tokens, a lost
authorisation, and the 1-hour window. Every attempt is on record for support staff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import pairwise

from calls.models import Call, DeliveryAttempt, InboxEvent
from integrations.outreach.models import OutreachConnection
from outreach_sandbox.connect import connect_sandbox_user
from tests.pipeline.helpers import Pipeline, eventually, refusals, state_of


def launch(pipeline: Pipeline, provider_call_id: str) -> tuple[str, dict]:
    launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
    return str(launched["id"]), {"outreach_call_id": str(launched["id"])}


def api_requests(pipeline: Pipeline) -> list[dict]:
    return [r for r in pipeline.sandbox.requests(path_prefix="/api/v2/calls")]


def at(record: dict) -> datetime:
    return datetime.fromisoformat(record["receivedAt"])


def test_it_retries_server_errors_with_growing_waits(pipeline: Pipeline) -> None:
    outreach_id, extra = launch(pipeline, "pbx-500")
    pipeline.sandbox.fail_next(3, path_prefix="/api/v2/calls")
    pipeline.send([pipeline.event("pbx-500", "dialling", 0, **extra)])
    pipeline.wait_for(outreach_id, lambda v: state_of(v) == "initiated", timeout=30)

    tries = api_requests(pipeline)
    assert [r["status"] for r in tries] == [500, 500, 500, 200]
    waits = [(at(b) - at(a)).total_seconds() for a, b in pairwise(tries)]
    assert waits[0] >= 0.5 and waits[1] >= 1.0 and waits[2] >= 2.0  # 1, 2, 4 s with jitter
    eventually(lambda: DeliveryAttempt.objects.filter(outcome="succeeded").exists())
    recorded = list(
        DeliveryAttempt.objects.order_by("id").values_list(
            "status_code", "outcome", "attempt", "method"
        )
    )
    assert recorded == [
        (500, "transient", 1, "PATCH"),
        (500, "transient", 2, "PATCH"),
        (500, "transient", 3, "PATCH"),
        (200, "succeeded", 4, "PATCH"),
    ]


def test_it_waits_as_long_as_retry_after_says(pipeline: Pipeline) -> None:
    outreach_id, extra = launch(pipeline, "pbx-429")
    pipeline.sandbox.rate_limit_next(1, retry_after=3, path_prefix="/api/v2/calls")
    pipeline.send([pipeline.event("pbx-429", "dialling", 0, **extra)])
    pipeline.wait_for(outreach_id, lambda v: state_of(v) == "initiated", timeout=30)
    limited, delivered = api_requests(pipeline)
    assert limited["status"] == 429
    assert (at(delivered) - at(limited)).total_seconds() >= 3.0


def test_it_records_a_permanent_refusal_with_outreachs_detail(pipeline: Pipeline) -> None:
    extra = {"outreach_call_id": "00000000-0000-0000-0000-00000000dead"}
    pipeline.send([pipeline.event("pbx-404", "dialling", 0, **extra)])
    eventually(lambda: Call.objects.get(provider_call_id="pbx-404").status == "failed")
    call = Call.objects.get(provider_call_id="pbx-404")
    attempt = DeliveryAttempt.objects.get(call=call)
    assert (attempt.status_code, attempt.outcome) == (404, "permanent")
    assert attempt.outreach_error_id
    assert call.problem.startswith(  # another Outreach org's call answers 404 just the same
        "Outreach does not know call 00000000-0000-0000-0000-00000000dead in this "
        "organisation's Outreach org (404: "
    )
    assert len(api_requests(pipeline)) == 1  # never retried


def test_it_refreshes_an_expired_token_once_and_delivers(pipeline: Pipeline) -> None:
    outreach_id, extra = launch(pipeline, "pbx-401")
    pipeline.sandbox.expire_tokens(pipeline.admin_outreach_id)
    pipeline.send([pipeline.event("pbx-401", "dialling", 0, **extra)])
    pipeline.wait_for(outreach_id, lambda v: state_of(v) == "initiated")
    assert [r["status"] for r in api_requests(pipeline)] == [401, 200]
    refreshes = pipeline.sandbox.requests(path_prefix="/oauth/token")
    assert [r["status"] for r in refreshes] == [200]


def test_it_holds_work_while_outreach_needs_reconnecting_and_resumes_after(
    pipeline: Pipeline,
) -> None:
    outreach_id, extra = launch(pipeline, "pbx-reauth")
    pipeline.sandbox.revoke_tokens(pipeline.admin_outreach_id)
    pipeline.send(
        [
            pipeline.event("pbx-reauth", "dialling", 0, **extra),
            pipeline.event("pbx-reauth", "ringing", 1, **extra),
        ]
    )
    eventually(lambda: Call.objects.get(provider_call_id="pbx-reauth").status == "held")
    connection = OutreachConnection.objects.get()
    assert connection.status == "needs_reauth"
    assert "needs reconnecting" in Call.objects.get(provider_call_id="pbx-reauth").problem

    admin = next(u for u in pipeline.sandbox.users() if u["id"] == pipeline.admin_outreach_id)
    connect_sandbox_user(
        sandbox=pipeline.sandbox,
        organization=pipeline.organization,
        user=admin,
        actor=connection.connected_by,
    )
    view = pipeline.wait_for(outreach_id, lambda v: state_of(v) == "ringing")
    assert [h["stateAfter"] for h in view["history"] if h["outcome"] == "accepted"] == [
        "initiated",
        "ringing",
    ]


def test_it_marks_links_that_come_after_the_window_expired_and_never_sends_them(
    pipeline: Pipeline, clock_offset: Callable[[float], None]
) -> None:
    outreach_id, extra = launch(pipeline, "pbx-late")
    pipeline.send(
        [
            pipeline.event("pbx-late", happening, second, **extra)
            for happening, second in [("dialling", 0), ("answered", 5), ("ended", 60)]
        ]
    )
    pipeline.wait_for(outreach_id, lambda v: state_of(v) == "completed")
    eventually(lambda: Call.objects.get(provider_call_id="pbx-late").status == "done")

    clock_offset(3700)  # an hour and a bit later, for us and for Outreach
    pipeline.send(
        [
            pipeline.event(
                "pbx-late", "recording_ready", 3700, link="https://rec.example/late.mp3", **extra
            )
        ]
    )
    eventually(lambda: InboxEvent.objects.get(happening="recording_ready").status == "expired")
    late = InboxEvent.objects.get(happening="recording_ready")
    assert "1-hour window" in late.reason
    assert pipeline.sandbox.call(outreach_id)["call"]["attributes"].get("recordingUrl") is None
    assert refusals(pipeline.sandbox) == []


def test_it_finds_a_create_whose_answer_was_lost_instead_of_creating_it_twice(
    pipeline: Pipeline,
) -> None:
    # Outreach creates the call, but answers after our client has given up waiting.
    pipeline.sandbox.hang_next(11, path_prefix="/api/v2/calls")
    numbers = {"direction": "inbound", "from": "+14155550111", "to": "+12065550100"}
    pipeline.send(
        [
            pipeline.event("in-lost", "ringing", 0, **numbers),
            pipeline.event("in-lost", "rejected", 2, **numbers),
        ]
    )
    eventually(lambda: Call.objects.get(provider_call_id="in-lost").status == "done", timeout=40)
    calls = [r for r in pipeline.sandbox.requests(path_prefix="/api/v2/calls")]
    creates = [r for r in calls if r["method"] == "POST"]
    assert len(creates) == 1
    lookups = [r for r in calls if r["method"] == "GET" and "vendorCallId" in r["query"]]
    assert len(lookups) == 1
    call = Call.objects.get(provider_call_id="in-lost")
    assert pipeline.sandbox.call(call.outreach_call_id)["call"]["attributes"]["state"] == "busy"
    outcomes = list(call.attempts.values_list("purpose", "outcome"))
    assert ("create", "unknown") in outcomes and ("reconcile", "succeeded") in outcomes
