"""The Finesse connector's events, one line each: the fixture and the happenings it carries.

Fixtures are cut from seed 002 (its non-breaking spaces normalised; its stray spaces inside
times kept): the seed itself, and the same envelope in each dialog and participant state Finesse
documents, for a campaign call (`BA*` variables), an agent's own outbound call (`AGENT_OUT`) and
an inbound one (`ACD_IN`).
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
    # The seed: a campaign call the customer answered (BAResponse CPA_Voice).
    "ACTIVE__outbound_campaign_seed": [H.ANSWERED],
    "ACTIVE__outbound_campaign_answering_machine": [H.ANSWERED_BY_VOICEMAIL],
    "DROPPED__outbound_campaign_answered": [H.ENDED],
    "ACCEPTED__outbound_campaign_preview_reservation": [],
    # An agent's own call (what Callbridge places through MAKE_CALL).
    "INITIATING__outbound_agent": [H.DIALLING],
    "INITIATED__outbound_agent": [H.DIALLING],
    "ALERTING__outbound_agent": [H.RINGING],
    "ACTIVE__outbound_agent": [H.ANSWERED],
    "ACTIVE__outbound_agent_fields_disagree": [H.ANSWERED],  # ResponseActual wins
    "HELD__outbound_agent": [H.ANSWERED],
    "DROPPED__outbound_agent_customer_hung_up": [H.ENDED],
    "WRAP_UP__outbound_agent": [H.ENDED],
    "DROPPED__outbound_agent_gave_up": [H.CALLER_HUNG_UP],
    "DROPPED__outbound_agent_rang_out": [H.NOT_ANSWERED],
    "FAILED__outbound_agent_busy": [H.REJECTED],
    "FAILED__outbound_agent_bad_destination": [H.SETUP_FAILED],
    "FAILED__outbound_agent_other": [H.SETUP_FAILED],
    # A routed inbound call.
    "ALERTING__inbound": [H.RINGING],
    "ACTIVE__inbound": [H.ANSWERED],
    "WRAP_UP__inbound": [H.ENDED],
    "DROPPED__inbound_caller_hung_up": [H.CALLER_HUNG_UP],
    "DROPPED__inbound_rang_out": [H.NOT_ANSWERED],
    "FAILED__inbound_busy": [H.REJECTED],
    "FAILED__inbound_other": [H.SETUP_FAILED],
}


@pytest.mark.parametrize(("name", "happenings"), EXPECTED.items(), ids=list(EXPECTED))
def test_it_reads_each_fixture(name: str, happenings: list[Happening]) -> None:
    assert happenings_of("finesse", name) == happenings


def test_it_has_a_line_for_every_fixture_and_a_fixture_for_every_event() -> None:
    assert sorted(EXPECTED) == fixtures_of("finesse")
    assert_every_event_has_a_fixture("finesse")
