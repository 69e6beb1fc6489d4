"""The generic provider's payloads, one line each: the fixture and the happenings it carries."""

from __future__ import annotations

import pytest

from integrations.events import Direction, Happening
from tests.providers.webhook_case import (
    assert_every_event_has_a_fixture,
    fixtures_of,
    happenings_of,
    parse_fixture,
)

H = Happening
pytestmark = pytest.mark.fast

EXPECTED = {
    "answered__inbound": [H.ANSWERED],
    "answered_by_voicemail__outbound": [H.ANSWERED_BY_VOICEMAIL],
    "caller_hung_up__outbound": [H.CALLER_HUNG_UP],
    "dialling__local_number": [H.DIALLING],
    "dialling__outbound": [H.DIALLING],
    "ended__inbound": [H.ENDED],
    "not_answered__inbound": [H.NOT_ANSWERED],
    "recording_ready__inbound": [H.RECORDING_READY],
    "rejected__inbound": [H.REJECTED],
    "ringing__agent_by_extension": [H.RINGING],
    "ringing__batch": [H.RINGING, H.ANSWERED],
    "ringing__inbound": [H.RINGING],
    "setup_failed__outbound": [H.SETUP_FAILED],
    "voicemail_left__inbound": [H.VOICEMAIL_LEFT],
}


@pytest.mark.parametrize(("name", "happenings"), EXPECTED.items(), ids=list(EXPECTED))
def test_it_reads_each_fixture(name: str, happenings: list[Happening]) -> None:
    assert happenings_of("generic", name) == happenings


def test_it_has_a_line_for_every_fixture_and_a_fixture_for_every_event() -> None:
    assert sorted(EXPECTED) == fixtures_of("generic")
    assert_every_event_has_a_fixture("generic")


def test_it_reads_a_number_without_country_code_in_the_organisations_region() -> None:
    (event,) = parse_fixture("generic", "dialling__local_number", region="US")
    assert (event.from_number, event.to_number) is not None
    assert event.from_number is not None and event.from_number.e164 == "+12065550100"
    assert event.to_number is not None and event.to_number.e164 == "+14155550123"
    assert event.direction is Direction.OUTBOUND and event.outreach_call_id == "42"


def test_it_reads_the_agent_and_the_link() -> None:
    (ringing,) = parse_fixture("generic", "ringing__agent_by_extension")
    (recording,) = parse_fixture("generic", "recording_ready__inbound")
    assert ringing.agent.extension == "4711" and ringing.extension == "4711"
    assert recording.link == "https://media.pbx.example/rec/pbx-3.mp3"
