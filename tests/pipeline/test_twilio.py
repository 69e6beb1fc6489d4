"""Twilio end to end: every row of the seed's final-state table, inbound and outbound, as the
callbacks Twilio sends for it - each call's shuffled, one sent twice - signed by the `twilio`
package with the connection's auth token, through the real webhook URL on a real gunicorn, to the
sandbox Outreach through the real worker."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.conf import settings

from calls.models import Call
from calls.services import agent_mapping_create
from integrations.models import ProviderConnection
from integrations.twilio.addresses import callback_url
from integrations.twilio.links import recording_link
from tests.pipeline.helpers import Pipeline, eventually, refusals
from tests.pipeline.scenarios import TABLE
from tests.providers.twilio.phone import (
    ACCOUNT_SID,
    OUR_NUMBER,
    SETUP,
    Callback,
    TwilioCall,
    inbound_call,
    new_sid,
    outbound_call,
    recording,
    sent_url,
    signature,
    twilio_time,
)


@pytest.fixture
def twilio(pipeline: Pipeline, web: str, settings: Any) -> ProviderConnection:
    """Alice's Twilio account, serving our number, which rings Rita's Twilio client."""
    settings.PUBLIC_BASE_URL = web  # the URLs we give Twilio are the server's
    connection = ProviderConnection(organization=pipeline.organization, kind="twilio", name="Sales")
    connection.set_setup_values(SETUP)
    connection.save()
    agent_mapping_create(
        organization=pipeline.organization,
        kind="id",
        value="rita",
        outreach_user_id=str(pipeline.rep_outreach_id),
    )
    return connection


def deliver(callback: Callback) -> httpx.Response:
    """As Twilio does: to the URL without its fragment, signed over the URL it was given."""
    return httpx.post(
        sent_url(callback.url),
        data=callback.params,
        headers={"X-Twilio-Signature": signature(callback.url, callback.params)},
    )


def our_link(connection: ProviderConnection, twilio_url: str) -> str | None:
    """The link of ours Outreach gets for a recording Twilio gave at `twilio_url`."""
    return recording_link(connection, twilio_url.rsplit("/", 1)[1]) if twilio_url else None


def outreach_has(pipeline: Pipeline, call: TwilioCall) -> tuple:
    ours = Call.objects.get(provider_call_id=call.call_sid)
    attributes = pipeline.sandbox.call(ours.outreach_call_id)["call"]["attributes"]
    return (
        attributes["direction"],
        attributes["state"],
        attributes.get("recordingUrl"),
        attributes.get("voicemailRecordingUrl"),
    )


def test_it_ends_every_row_of_the_table_as_twilio_tells_it(
    pipeline: Pipeline, twilio: ProviderConnection
) -> None:
    rng = random.Random(15)
    start = datetime.now(UTC) - timedelta(minutes=2)
    calls = []
    for index, (direction, result, _, final_state) in enumerate(TABLE):
        if direction == "inbound":
            caller = f"+1415555{index:04d}"
            calls.append(
                inbound_call(callback_url(twilio), result, final_state, caller=caller, start=start)
            )
        else:
            prospect = f"+1312555{index:04d}"
            launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, prospect)
            url = callback_url(twilio, outreach_call_id=str(launched["id"]))
            calls.append(
                outbound_call(
                    url,
                    result,
                    final_state,
                    prospect=prospect,
                    start=start,
                    outreach_call_id=str(launched["id"]),
                )
            )
    arrivals = [callback for call in calls for callback in call.arrivals(rng)]
    rng.shuffle(arrivals)  # calls interleave, as on a busy account
    for callback in arrivals:
        answer = deliver(callback)
        assert (answer.status_code, answer.content) == (200, b""), answer.text

    ids = [call.call_sid for call in calls]
    eventually(
        lambda: Call.objects.filter(provider_call_id__in=ids, status="done").count() == len(ids),
        timeout=60,
    )
    wrong = {}
    for call, (_, result, _, _) in zip(calls, TABLE, strict=True):
        expected = (
            call.direction,
            call.final_state,
            our_link(twilio, call.recording),
            our_link(twilio, call.voicemail),
        )
        if outreach_has(pipeline, call) != expected:
            wrong[f"{call.direction}: {result}"] = (outreach_has(pipeline, call), expected)
    assert wrong == {}
    assert refusals(pipeline.sandbox) == []
    log = pipeline.sandbox.requests(path_prefix="/api/v2")
    creates = [r for r in log if r["method"] == "POST" and r["path"] == "/api/v2/calls"]
    assert len(creates) == sum(1 for call in calls if call.direction == "inbound")


def dial_action(url: str, parent: str, status: str, *, caller: str, seconds: int = 0) -> Callback:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": parent,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        "From": caller,
        "To": OUR_NUMBER,
        "DialCallSid": new_sid(),
        "DialCallStatus": status,
        "DialCallDuration": str(seconds),
        "DialBridged": "true" if status == "completed" else "false",
    }
    return Callback(url, params)


def caller_ended(url: str, parent: str, *, caller: str) -> Callback:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": parent,
        "CallStatus": "completed",
        "CallbackSource": "call-progress-events",
        "Direction": "inbound",
        "From": caller,
        "To": OUR_NUMBER,
        "CallDuration": "40",
        "SequenceNumber": "0",
        "Timestamp": twilio_time(datetime.now(UTC)),
    }
    return Callback(url, params)


@pytest.mark.parametrize(
    ("status", "seconds", "final_state"),
    [("completed", 31, "completed"), ("busy", 0, "busy"), ("no-answer", 0, "no answer")],
)
def test_it_takes_the_agents_outcome_from_a_dial_action_pointed_at_us(
    pipeline: Pipeline, twilio: ProviderConnection, status: str, seconds: int, final_state: str
) -> None:
    """A routing that rings several agents at once points its <Dial>'s action to us instead of
    giving each leg our status callback: DialCallStatus is the whole <Dial>'s outcome. It comes
    as the <Dial> ends, before the caller's leg does, and Twilio gets TwiML back."""
    parent, caller, url = new_sid(), "+14155550111", callback_url(twilio)
    action = deliver(dial_action(url, parent, status, caller=caller, seconds=seconds))
    assert (action.status_code, action.headers["content-type"]) == (200, "text/xml")
    assert deliver(caller_ended(url, parent, caller=caller)).status_code == 200

    eventually(lambda: Call.objects.filter(provider_call_id=parent, status="done").exists())
    ours = Call.objects.get(provider_call_id=parent)
    attributes = pipeline.sandbox.call(ours.outreach_call_id)["call"]["attributes"]
    assert (attributes["state"], attributes["from"]) == (final_state, caller)
    assert refusals(pipeline.sandbox) == []


def test_it_refuses_a_forged_callback_through_the_real_url(
    pipeline: Pipeline, twilio: ProviderConnection
) -> None:
    parent = new_sid()
    forged = caller_ended(callback_url(twilio), parent, caller="+14155550111")
    answer = httpx.post(
        sent_url(forged.url),
        data=forged.params,
        headers={"X-Twilio-Signature": signature(forged.url, forged.params, token="guess")},
    )
    assert answer.status_code == 403
    assert not Call.objects.filter(provider_call_id=parent).exists()
    assert settings.PUBLIC_BASE_URL.startswith("http://127.0.0.1:")


def test_it_gives_the_call_a_reason_for_what_came_first_or_does_not_belong(
    pipeline: Pipeline, twilio: ProviderConnection
) -> None:
    """The agent's leg of a call never heard of comes first, then a recording before the call's
    status says how it ended, and the agent rejected the call: each is kept, with its reason."""
    url, caller = callback_url(twilio), "+14155550112"
    call = inbound_call(
        url,
        "user rejects",
        "busy",
        caller=caller,
        start=datetime.now(UTC) - timedelta(minutes=1),
    )
    first, *_, ended = call.callbacks
    assert deliver(first).status_code == 200
    eventually(lambda: Call.objects.get(provider_call_id=call.call_sid).status == "held")
    assert "Waiting for the caller's and the called number" in (
        Call.objects.get(provider_call_id=call.call_sid).problem
    )
    stray = recording(call.call_sid, "completed", "DialVerb", datetime.now(UTC), 12)
    for callback in [Callback(url, stray), *call.callbacks[1:]]:
        assert deliver(callback).status_code == 200

    eventually(lambda: Call.objects.get(provider_call_id=call.call_sid).status == "done")
    ours = Call.objects.get(provider_call_id=call.call_sid)
    attributes = pipeline.sandbox.call(ours.outreach_call_id)["call"]["attributes"]
    assert (attributes["state"], attributes["from"], attributes.get("recordingUrl")) == (
        "busy",
        caller,
        None,
    )
    kept = ours.events.get(happening="recording_ready")
    assert (kept.status, kept.reason) == (
        "ignored",
        "recording only for completed calls (final state: busy)",
    )
    assert ended.params["CallStatus"] == "completed"
    assert ours.events.get(happening="caller_hung_up").status == "ignored"
    assert refusals(pipeline.sandbox) == []
