"""What Twilio's callbacks say beyond their happenings: which call a leg belongs to, when things
happened, who the agent is, and the clear refusal of what cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory

from integrations.events import AgentIdentity, CallEvent, Direction, Happening
from integrations.models import ProviderConnection
from integrations.provider import WebhookRejected
from integrations.twilio.provider import TwilioProvider
from portal.tenancy.models import Organization
from tests.providers.twilio.phone import SETUP
from tests.providers.webhook_case import parse_fixture, payload_of

H = Happening
pytestmark = pytest.mark.fast
PARENT = "CA3f5e2b1c9d8a7f6e5d4c3b2a1f0e9d8c"
CHILD = "CAe41b0c7d2a9f8e3b6c5d4a1f0e9d8c7b"


def fixture(name: str) -> dict[str, str]:
    return payload_of("twilio", name)


def parse(params: dict[str, str], *, query: str = "", setup: dict | None = None) -> list[CallEvent]:
    request = RequestFactory().post(
        f"/hooks/twilio/t/{'?' + query if query else ''}",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
    )
    organization = Organization(name="Fixture Co", slug="fixture-co", default_region="US")
    connection = ProviderConnection(organization=organization, kind="twilio", name="Twilio")
    connection.set_setup_values(SETUP if setup is None else setup)
    return TwilioProvider().parse(request, connection)


def refusal(params: dict[str, str], **kwargs: object) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        parse(params, **kwargs)  # type: ignore[arg-type]
    assert caught.value.status == 422
    return caught.value


def test_it_folds_the_agents_leg_into_the_callers_call() -> None:
    (ringing,) = parse_fixture("twilio", "status-callback__agent_ringing")
    assert (ringing.provider_call_id, ringing.dedup_key) == (PARENT, f"{CHILD}:ringing")
    assert ringing.direction is Direction.INBOUND
    # The leg's numbers are the agent's phone and a caller id, not the call's.
    assert (ringing.from_number, ringing.to_number) == (None, None)
    assert ringing.agent == AgentIdentity(phone="+14155550199")


def test_it_names_the_agent_as_the_agents_page_maps_them() -> None:
    (client,) = parse_fixture("twilio", "status-callback__agent_ringing_client")
    (sip,) = parse_fixture("twilio", "status-callback__agent_ringing_sip")
    assert client.agent == AgentIdentity(id="rita")
    assert sip.agent == AgentIdentity(id="rita@pbx.example.com")


def test_it_reads_the_callers_leg_with_the_numbers_and_the_agent_our_number_rings() -> None:
    params = fixture("status-callback__caller_completed")
    (ended,) = parse(params, setup={**SETUP, "numbers": "+12065550100=client:rita"})
    assert (ended.provider_call_id, ended.dedup_key) == (PARENT, f"{PARENT}:caller_hung_up")
    assert ended.from_number is not None and ended.from_number.e164 == "+14155550123"
    assert ended.to_number is not None and ended.to_number.e164 == "+12065550100"
    assert ended.agent == AgentIdentity(id="rita")


def test_it_keeps_a_caller_that_is_not_a_phone_number_as_twilio_sent_it() -> None:
    (ended,) = parse_fixture("twilio", "status-callback__caller_completed_anonymous")
    assert ended.from_number is not None
    assert (ended.from_number.raw, ended.from_number.e164) == ("anonymous", "")


def test_it_orders_one_legs_callbacks_within_their_second_and_ends_the_callers_last() -> None:
    second = datetime(2026, 11, 23, 10, 0, 41, tzinfo=UTC)
    agent_ended = parse_fixture("twilio", "status-callback__agent_completed")[-1]
    (caller_ended,) = parse_fixture("twilio", "status-callback__caller_completed")
    assert agent_ended.occurred_at == second + timedelta(milliseconds=3)  # SequenceNumber 3
    assert caller_ended.occurred_at == second + timedelta(milliseconds=999)


def test_it_dates_the_answer_of_a_completed_leg_by_its_duration() -> None:
    answered, ended = parse_fixture("twilio", "status-callback__agent_completed")
    assert ended.occurred_at - answered.occurred_at == timedelta(seconds=32)  # CallDuration
    # ... in the key the leg's own in-progress callback uses: it counts once.
    (in_progress,) = parse_fixture("twilio", "status-callback__agent_in-progress")
    assert answered.dedup_key == in_progress.dedup_key == f"{CHILD}:answered"


def test_it_tells_a_dial_action_in_the_agent_legs_keys_dated_on_arrival() -> None:
    before = datetime.now(UTC)
    answered, ended = parse_fixture("twilio", "dial-action__completed")
    (busy,) = parse_fixture("twilio", "dial-action__busy")
    assert (ended.dedup_key, busy.dedup_key) == (f"{CHILD}:ended", f"{CHILD}:rejected")
    assert ended.provider_call_id == PARENT and ended.occurred_at >= before
    assert ended.occurred_at - answered.occurred_at == timedelta(seconds=32)  # DialCallDuration
    (conference, _) = parse_fixture("twilio", "dial-action__answered_conference")
    assert conference.dedup_key == f"{PARENT}:dial:answered"


def test_it_reads_an_outbound_calls_outreach_call_and_rep_from_its_url() -> None:
    params = fixture("status-callback__outbound_ringing")
    (ringing,) = parse(params, query="outreach_call_id=4711&agent=rita%40alice.example")
    assert (ringing.direction, ringing.outreach_call_id) == (Direction.OUTBOUND, "4711")
    assert ringing.agent == AgentIdentity(id="rita@alice.example")
    # Without a rep in the URL, the agent our calling number belongs to.
    (ringing,) = parse(params, setup={**SETUP, "numbers": "+12065550100=+14155550199"})
    assert ringing.agent == AgentIdentity(phone="+14155550199")


def test_it_takes_a_dialled_leg_of_an_outbound_call_as_outbound() -> None:
    (ringing,) = parse(fixture("status-callback__agent_initiated"), query="outreach_call_id=42")
    assert (ringing.happening, ringing.direction) == (H.DIALLING, Direction.OUTBOUND)
    assert ringing.provider_call_id == PARENT


def test_it_links_a_recording_and_tells_a_voicemail_only_on_an_inbound_call() -> None:
    (voicemail,) = parse_fixture("twilio", "recording-status-callback__voicemail_completed")
    # A link of ours, which plays the recording for anyone Outreach shows it to.
    assert "/play/" in voicemail.link
    assert voicemail.raw["params"]["RecordingSid"] in voicemail.link
    assert voicemail.provider_call_id == PARENT
    assert voicemail.occurred_at == datetime(2026, 11, 23, 10, 0, 51, tzinfo=UTC)  # start + 18 s
    params = fixture("recording-status-callback__voicemail_completed")
    (recording,) = parse(params, query="outreach_call_id=42")
    assert (recording.happening, recording.direction) == (H.RECORDING_READY, Direction.OUTBOUND)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"CallStatus": ""}, "CallStatus is missing."),
        ({"CallStatus": "teleported"}, "CallStatus 'teleported' is not one Twilio documents"),
        ({"Timestamp": "yesterday"}, "Timestamp 'yesterday' is not a date as Twilio writes them"),
    ],
)
def test_it_refuses_a_status_it_cannot_read_naming_the_call(change: dict, reason: str) -> None:
    refused = refusal({**fixture("status-callback__agent_ringing"), **change})
    assert reason in refused.reason and refused.provider_call_id == PARENT


def test_it_refuses_an_agent_leg_that_does_not_name_its_call() -> None:
    params = fixture("status-callback__agent_ringing")
    del params["ParentCallSid"]
    assert "names no ParentCallSid" in refusal(params).reason


def test_it_refuses_a_direction_twilio_does_not_document() -> None:
    params = {**fixture("status-callback__caller_ringing"), "Direction": "sideways"}
    assert "Direction 'sideways' is not one Twilio documents" in refusal(params).reason


def test_it_refuses_unknown_dial_and_recording_statuses() -> None:
    dial = {**fixture("dial-action__busy"), "DialCallStatus": "lost"}
    assert "DialCallStatus 'lost'" in refusal(dial).reason
    recorded = {**fixture("recording-status-callback__voicemail_completed"), "RecordingStatus": "x"}
    assert "RecordingStatus 'x'" in refusal(recorded).reason


def test_it_refuses_a_recording_of_no_call_and_what_is_no_call_callback() -> None:
    params = fixture("recording-status-callback__conversation_completed")
    del params["CallSid"]
    assert "names no CallSid" in refusal(params).reason
    assert "Not a Twilio call callback" in refusal({"AccountSid": SETUP["account_sid"]}).reason


@pytest.mark.parametrize(
    ("status", "happenings"),
    [
        ("busy", [H.SETUP_FAILED]),
        ("no-answer", [H.SETUP_FAILED]),
        ("failed", [H.SETUP_FAILED]),
        ("canceled", [H.SETUP_FAILED]),
        ("ringing", []),
        ("in-progress", []),
        ("completed", []),
    ],
)
def test_the_reps_leg_of_a_call_placed_rep_first_only_fails_it(
    status: str, happenings: list[Happening]
) -> None:
    """The prospect is dialled once the rep answers: the rep not answering means the call was
    never placed; the rep's answer and end say nothing of the prospect."""
    params = fixture("status-callback__outbound_ringing") | {"CallStatus": status}
    events = parse(params, query="outreach_call_id=4711&leg=rep")
    assert [event.happening for event in events] == happenings
    for event in events:
        assert (event.provider_call_id, event.outreach_call_id) == (params["CallSid"], "4711")
        assert event.dedup_key == f"{params['CallSid']}:rep:{status}"
