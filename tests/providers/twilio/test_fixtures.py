"""Twilio's callbacks, one line each: the fixture and the happenings it carries.

Fixtures are Twilio's payloads for its three callbacks (`status-callback`, `dial-action`,
`recording-status-callback`), one per documented status, AnsweredBy and recording source, on
each leg: `caller` (an inbound call's own leg, which Twilio answers to run the routing), `agent`
(the leg the routing's <Dial> opened, `Direction=outbound-dial`) and `outbound` (a call placed
through the REST API).
"""

from __future__ import annotations

import pytest

from integrations.events import Happening
from tests.providers.webhook_case import (
    assert_every_event_has_a_fixture,
    fixtures_of,
    happenings_of,
)

H = Happening
pytestmark = pytest.mark.fast

EXPECTED = {
    # The caller's leg of an inbound call: its end decides only if the agent's leg did not.
    "status-callback__caller_ringing": [H.RINGING],
    "status-callback__caller_in-progress": [],  # Twilio answered to run the routing
    "status-callback__caller_completed": [H.CALLER_HUNG_UP],
    "status-callback__caller_completed_anonymous": [H.CALLER_HUNG_UP],
    "status-callback__caller_completed_sip_trunk": [H.CALLER_HUNG_UP],
    "status-callback__caller_busy": [H.REJECTED],  # the routing's <Reject reason="busy">
    "status-callback__caller_no-answer": [H.NOT_ANSWERED],
    "status-callback__caller_canceled": [H.CALLER_HUNG_UP],
    "status-callback__caller_failed": [H.SETUP_FAILED],
    # The agent's leg, folded into the caller's call.
    "status-callback__agent_queued": [H.RINGING],
    "status-callback__agent_initiated": [H.RINGING],
    "status-callback__agent_ringing": [H.RINGING],
    "status-callback__agent_ringing_client": [H.RINGING],
    "status-callback__agent_ringing_sip": [H.RINGING],
    "status-callback__agent_in-progress": [H.ANSWERED],
    "status-callback__agent_in-progress_machine_start": [H.ANSWERED_BY_VOICEMAIL],
    "status-callback__agent_completed": [H.ANSWERED, H.ENDED],
    "status-callback__agent_busy": [H.REJECTED],
    "status-callback__agent_no-answer": [H.NOT_ANSWERED],
    "status-callback__agent_canceled": [H.CALLER_HUNG_UP],
    "status-callback__agent_failed": [H.SETUP_FAILED],
    # An outbound call placed through the REST API.
    "status-callback__outbound_queued": [H.DIALLING],
    "status-callback__outbound_initiated": [H.DIALLING],
    "status-callback__outbound_ringing": [H.RINGING],
    "status-callback__outbound_in-progress": [H.ANSWERED],
    "status-callback__outbound_in-progress_human": [H.ANSWERED],
    "status-callback__outbound_in-progress_unknown": [H.ANSWERED],
    "status-callback__outbound_in-progress_machine_start": [H.ANSWERED_BY_VOICEMAIL],
    "status-callback__outbound_in-progress_machine_end_beep": [H.ANSWERED_BY_VOICEMAIL],
    "status-callback__outbound_in-progress_machine_end_silence": [H.ANSWERED_BY_VOICEMAIL],
    "status-callback__outbound_in-progress_machine_end_other": [H.ANSWERED_BY_VOICEMAIL],
    "status-callback__outbound_in-progress_fax": [H.ANSWERED_BY_VOICEMAIL],
    "status-callback__outbound_completed": [H.ANSWERED, H.ENDED],
    "status-callback__outbound_completed_machine_end_beep": [H.ANSWERED_BY_VOICEMAIL, H.ENDED],
    "status-callback__outbound_completed_sip_trunk": [H.ANSWERED, H.ENDED],
    "status-callback__outbound_busy": [H.REJECTED],
    "status-callback__outbound_no-answer": [H.NOT_ANSWERED],
    "status-callback__outbound_canceled": [H.CALLER_HUNG_UP],
    "status-callback__outbound_failed": [H.SETUP_FAILED],
    # The <Dial> action: the outcome of the agent's leg, told on the caller's call.
    "dial-action__completed": [H.ANSWERED, H.ENDED],
    "dial-action__completed_recorded": [H.ANSWERED, H.ENDED],
    "dial-action__answered_conference": [H.ANSWERED, H.ENDED],
    "dial-action__busy": [H.REJECTED],
    "dial-action__no-answer": [H.NOT_ANSWERED],
    "dial-action__canceled": [H.CALLER_HUNG_UP],
    "dial-action__failed": [H.SETUP_FAILED],
    # Recordings: a <Record> on an inbound call is its voicemail, anything else the talk.
    "recording-status-callback__voicemail_in-progress": [H.ANSWERED_BY_VOICEMAIL],
    "recording-status-callback__voicemail_completed": [H.VOICEMAIL_LEFT],
    "recording-status-callback__voicemail_absent": [H.ANSWERED_BY_VOICEMAIL],
    "recording-status-callback__conversation_in-progress": [],
    "recording-status-callback__conversation_completed": [H.RECORDING_READY],
    "recording-status-callback__conversation_absent": [],
    "recording-status-callback__conversation_failed": [],
    "recording-status-callback__outbound_completed": [H.RECORDING_READY],
    "recording-status-callback__outbound_started_by_api": [H.RECORDING_READY],
}


@pytest.mark.parametrize(("name", "happenings"), EXPECTED.items(), ids=list(EXPECTED))
def test_it_reads_each_fixture(name: str, happenings: list[Happening]) -> None:
    assert happenings_of("twilio", name) == happenings


def test_it_has_a_line_for_every_fixture_and_a_fixture_for_every_event() -> None:
    assert sorted(EXPECTED) == fixtures_of("twilio")
    assert_every_event_has_a_fixture("twilio")
