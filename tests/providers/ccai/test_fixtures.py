"""The CCAI Platform's payloads, one line each: the fixture and the happenings it carries.

Fixtures are cut from the seed's call objects (the 201 answers of the dial, incoming and
scheduled call APIs, and the example call object), each set to one documented status (and, for
`failed`, one `fail_reason`), plus session events following the documented progression (start
with the customer's `dn`, the agent accepting, then connected). Named `<status>__<variant>` and
`session__<variant>`.
"""

from __future__ import annotations

import pytest

from integrations.events import Direction, Happening
from tests.providers.webhook_case import (
    assert_every_event_has_a_fixture,
    fixtures_of,
    parse_fixture,
)

H = Happening
pytestmark = pytest.mark.fast

EXPECTED = {
    # Outbound: the agent's call to the end user (the seed's 201 answers, then each status).
    "assigned__outbound_end_user_number": [H.DIALLING],
    "assigned__outbound_ticket": [H.DIALLING],
    "switching__outbound": [],
    "connecting__outbound": [H.RINGING],
    "connected__outbound": [H.ANSWERED],
    "finished__outbound": [H.ANSWERED, H.ENDED, H.RECORDING_READY],
    "finished__outbound_not_recorded": [H.ANSWERED, H.ENDED],
    "failed__outbound_eu_busy": [H.REJECTED],
    "failed__outbound_eu_rejected": [H.REJECTED],
    "failed__outbound_eu_canceled": [H.REJECTED],
    "failed__outbound_eu_abandoned": [H.REJECTED],
    "failed__outbound_expired": [H.NOT_ANSWERED],
    "failed__outbound_nothing": [H.SETUP_FAILED],
    "failed__outbound_voip_error": [H.SETUP_FAILED],
    # Inbound: the end user calls the contact centre.
    "selecting__inbound": [],
    "queued__inbound": [H.RINGING],
    "queued__scheduled": [H.RINGING],
    "scheduled__example": [],
    "assigned__inbound": [H.RINGING],
    "connecting__inbound": [H.RINGING],
    "connected__inbound": [H.ANSWERED],
    "finished__inbound": [H.ANSWERED, H.ENDED, H.RECORDING_READY],
    "failed__inbound_eu_canceled": [H.CALLER_HUNG_UP],
    "failed__inbound_eu_abandoned": [H.CALLER_HUNG_UP],
    "failed__inbound_expired": [H.SETUP_FAILED],
    "failed__inbound_nothing": [H.SETUP_FAILED],
    "deflected__inbound_after_hours": [H.NOT_ANSWERED],
    "voicemail__inbound": [H.ANSWERED_BY_VOICEMAIL],
    "voicemail_received__inbound": [H.ANSWERED_BY_VOICEMAIL, H.ENDED, H.VOICEMAIL_LEFT],
    "voicemail_read__inbound": [H.ANSWERED_BY_VOICEMAIL, H.ENDED, H.VOICEMAIL_LEFT],
    "recovered__inbound": [],
    "action_only__inbound": [],
    "action_only_finished__inbound": [],
    # Session events.
    "session__inbound_start": [H.RINGING],
    "session__inbound_agent_accepted": [H.RINGING],
    "session__inbound_agent_connected": [H.ANSWERED],
    "session__inbound_finished": [],
    "session__outbound_dialling": [H.DIALLING],
    "session__outbound_answered": [H.ANSWERED],
    "session__inbound_call_object": [H.CALLER_HUNG_UP],
}


@pytest.mark.parametrize(("name", "happenings"), EXPECTED.items(), ids=list(EXPECTED))
def test_it_reads_each_fixture(name: str, happenings: list[Happening]) -> None:
    assert [event.happening for event in parse_fixture("ccai", name)] == happenings


def test_it_has_a_line_for_every_fixture_and_a_fixture_for_every_status() -> None:
    assert set(fixtures_of("ccai")) == set(EXPECTED)
    assert_every_event_has_a_fixture("ccai")


def test_it_reads_the_direction_from_call_type() -> None:
    assert {e.direction for e in parse_fixture("ccai", "finished__outbound")} == {
        Direction.OUTBOUND
    }
    # A scheduled call is the end user's (a call-back they asked for): inbound.
    assert parse_fixture("ccai", "scheduled__example") == []
    assert parse_fixture("ccai", "queued__scheduled")[0].direction is Direction.INBOUND


def test_it_dates_each_happening_by_the_call_objects_times() -> None:
    answered, ended, recording = parse_fixture("ccai", "finished__outbound")
    assert answered.occurred_at.isoformat() == "2019-06-07T01:27:41.120000+00:00"
    assert ended.occurred_at.isoformat() == "2019-06-07T01:29:02.310000+00:00"
    assert recording.link == "https://acme.ccaiplatform.com/recordings/397.mp3"
    (dialling,) = parse_fixture("ccai", "assigned__outbound_end_user_number")
    assert dialling.occurred_at.isoformat() == "2019-06-07T01:27:30.406000+00:00"


def test_it_gives_a_happening_the_same_key_from_a_session_event_and_a_poll() -> None:
    (polled,) = parse_fixture("ccai", "failed__inbound_eu_abandoned")
    (pushed,) = parse_fixture("ccai", "session__inbound_call_object")
    assert polled.dedup_key == pushed.dedup_key == "ccai:515:caller_hung_up"


def test_it_takes_numbers_and_agent_from_where_each_is() -> None:
    (ringing,) = parse_fixture("ccai", "session__inbound_start")
    assert ringing.from_number is not None and ringing.from_number.e164 == "+18596579625"
    (answered,) = parse_fixture("ccai", "session__inbound_agent_connected")
    assert answered.agent.as_dict() == {"id": "7", "email": "rita@acme.example"}
    (pushed,) = parse_fixture("ccai", "session__inbound_call_object")
    assert pushed.from_number is not None and pushed.from_number.e164 == "+18596579625"
    assert pushed.to_number is not None and pushed.to_number.e164 == "+13392195276"
    (connected,) = parse_fixture("ccai", "connected__inbound")
    assert connected.agent.as_dict() == {"id": "7"}
    (outbound,) = parse_fixture("ccai", "connected__outbound")
    assert outbound.from_number is not None and outbound.from_number.e164 == "+13392195276"
