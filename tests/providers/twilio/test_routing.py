"""The routing Callbridge serves at a connection's voice URL: TwiML that rings the number's agent
with our callbacks, takes a voicemail when nobody answers, and connects the calls we place; every
request checked with Twilio's signature like the callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.models import ProviderConnection
from integrations.twilio.addresses import callback_url, voice_url
from portal.audit.models import AuditEntry
from tests.conftest import Cast
from tests.providers.twilio.phone import ACCOUNT_SID, AGENT, OUR_NUMBER, SETUP, new_sid
from tests.providers.twilio.test_webhook import post

CALLER = "+14155550111"


@pytest.fixture
def connection(cast: Cast) -> ProviderConnection:
    return connection_of(cast)


def connection_of(cast: Cast, **setup: str) -> ProviderConnection:
    connection = ProviderConnection(organization=cast.org, kind="twilio", name="Sales")
    connection.set_setup_values({**SETUP, **setup})
    connection.save()
    return connection


def incoming(to: str = OUR_NUMBER, **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": new_sid(),
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": CALLER,
        "To": to,
        **extra,
    }


def twiml(url: str, params: dict[str, str]) -> ET.Element:
    answer = post(url, params)
    assert (answer.status_code, answer["Content-Type"]) == (200, "text/xml"), answer.content
    return ET.fromstring(answer.content)


def step_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("step", [""])[0]


def test_it_rings_the_numbers_agent_with_our_callbacks(connection: ProviderConnection) -> None:
    response = twiml(voice_url(connection), incoming())
    [dial] = list(response)
    assert dial.tag == "Dial" and step_of(dial.attrib["action"]) == "after-dial"
    [client] = list(dial)
    assert (client.tag, client.text) == ("Client", AGENT.removeprefix("client:"))
    assert client.attrib["statusCallback"] == callback_url(connection)
    assert client.attrib["statusCallbackEvent"] == "initiated ringing answered completed"
    assert "record" not in dial.attrib


def test_it_says_the_recording_notice_before_a_recorded_call(cast: Cast) -> None:
    connection = connection_of(
        cast, record_calls="yes", recording_notice="This call is recorded for training."
    )
    say, dial = list(twiml(voice_url(connection), incoming()))
    assert (say.tag, say.text) == ("Say", "This call is recorded for training.")
    assert dial.attrib["record"] == "record-from-answer-dual"
    assert dial.attrib["recordingStatusCallback"] == callback_url(connection)


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_it_takes_a_voicemail_when_the_agent_does_not_answer(
    connection: ProviderConnection, status: str
) -> None:
    after = voice_url(connection, step="after-dial")
    say, record = list(twiml(after, incoming(DialCallStatus=status, CallStatus="in-progress")))
    assert say.tag == "Say" and record.tag == "Record"
    assert record.attrib["recordingStatusCallback"] == callback_url(connection)
    assert record.attrib["recordingStatusCallbackEvent"] == "in-progress completed absent"
    # Without an action Twilio would ask this URL again, and loop.
    assert step_of(record.attrib["action"]) == "hang-up"


def test_it_hangs_up_after_an_answered_call(connection: ProviderConnection) -> None:
    after = voice_url(connection, step="after-dial")
    [hangup] = list(twiml(after, incoming(DialCallStatus="completed")))
    assert hangup.tag == "Hangup"


def test_a_number_with_no_agent_goes_to_voicemail_and_the_admin_is_told(
    connection: ProviderConnection,
) -> None:
    say, record = list(twiml(voice_url(connection), incoming(to="+12065550177")))
    assert "not set up to reach anyone" in (say.text or "") and record.tag == "Record"
    entry = AuditEntry.objects.get(action="twilio.routing_without_agent")
    assert entry.data["reason"] == (
        "A call to +12065550177 came in, but the connection's numbers name no agent for it: "
        "it went to voicemail."
    )


def test_it_refuses_a_voice_request_twilio_did_not_sign(connection: ProviderConnection) -> None:
    url = voice_url(connection)
    answer = post(url, incoming(), signed_url=url.replace("voice", "voices"))
    assert answer.status_code == 403


def test_it_dials_the_prospect_as_a_number_of_the_reps_call(cast: Cast, settings: Any) -> None:
    connection = connection_of(cast, leg_order="rep", machine_detection="yes")
    url = voice_url(
        connection, step="connect-prospect", outreach_call_id="4711", to="+13125550147", ext="99"
    )
    [dial] = list(twiml(url, incoming(Direction="outbound-api", CallStatus="in-progress")))
    assert dial.attrib["callerId"] == OUR_NUMBER
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", "+13125550147")
    assert number.attrib["sendDigits"] == "ww99"
    assert number.attrib["machineDetection"] == "Enable"
    assert number.attrib["statusCallback"] == callback_url(connection, outreach_call_id="4711")


def test_it_rings_the_rep_once_the_prospect_answers(connection: ProviderConnection) -> None:
    url = voice_url(connection, step="connect-rep", outreach_call_id="4711", to="client:bob")
    [dial] = list(twiml(url, incoming(Direction="outbound-api", CallStatus="in-progress")))
    [client] = list(dial)
    assert (client.tag, client.text, client.attrib) == ("Client", "bob", {})
