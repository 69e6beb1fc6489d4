"""Twilio, part two, end to end on real processes (gunicorn, the worker, the sandbox Outreach) with
a fake of Twilio's REST API on loopback: every outbound row of the seed's table dialled through
the dial API, an inbound call through the routing Callbridge serves ending in a voicemail that
plays from its link, and a rep's browser playing and seeking in a recording."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from calls.models import AgentMapping, Call
from integrations.models import ProviderConnection
from integrations.twilio.addresses import callback_url, voice_url
from integrations.twilio.links import recording_link
from portal.accounts.services import api_token_create
from portal.tenancy.models import Membership, Role
from tests.browser import browser_page
from tests.conftest import make_user
from tests.dialling.helpers import portal_server
from tests.pipeline.helpers import Pipeline, eventually, refusals
from tests.pipeline.scenarios import TABLE
from tests.providers.twilio.fake_api import FakeTwilio, running_twilio
from tests.providers.twilio.phone import (
    ACCOUNT_SID,
    OUR_NUMBER,
    SETUP,
    Callback,
    outbound_call,
    recording,
    sent_url,
    signature,
    status,
)


@dataclass
class TwilioFlow:
    pipeline: Pipeline
    web: str
    twilio: FakeTwilio
    connection: ProviderConnection
    token: str

    def dial(self, call_id: str, number: str) -> httpx.Response:
        return httpx.post(
            f"{self.web}/api/v1/dial",
            json={"source": "outreach", "callId": call_id, "phoneNumber": number},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )


@pytest.fixture
def flow(pipeline: Pipeline, settings: Any) -> Iterator[TwilioFlow]:
    """Alice & Co places and routes its calls through Twilio, recording them; Rita is a rep whose
    Twilio client `rita` is mapped to her Outreach user."""
    rita = make_user("rita@alice.example")
    Membership.objects.create(organization=pipeline.organization, user=rita, role=Role.MEMBER)
    AgentMapping.objects.create(
        organization=pipeline.organization,
        kind="id",
        value="rita",
        outreach_user_id=str(pipeline.rep_outreach_id),
        user=rita,
    )
    _, token = api_token_create(
        user=rita, organization=pipeline.organization, name="Chrome", lifetime_days=None
    )
    with running_twilio() as twilio, portal_server(TWILIO_API_URL=twilio.base_url) as web:
        settings.PUBLIC_BASE_URL, settings.TWILIO_API_URL = web, twilio.base_url
        connection = ProviderConnection(
            organization=pipeline.organization, kind="twilio", name="Sales", places_calls=True
        )
        connection.set_setup_values({**SETUP, "record_calls": "yes"})
        connection.save()
        yield TwilioFlow(pipeline, web, twilio, connection, token)


def deliver(callback: Callback) -> httpx.Response:
    """As Twilio does: to the URL without its fragment, signed over the URL it was given."""
    return httpx.post(
        sent_url(callback.url),
        data=callback.params,
        headers={"X-Twilio-Signature": signature(callback.url, callback.params)},
        timeout=30,
    )


def twiml(url: str, params: dict[str, str]) -> ET.Element:
    answer = deliver(Callback(url, params))
    assert (answer.status_code, answer.headers["content-type"]) == (200, "text/xml"), answer.text
    return ET.fromstring(answer.content)


def test_it_dials_every_outbound_row_of_the_table_through_twilio(flow: TwilioFlow) -> None:
    rng = random.Random(16)
    sandbox, placed = flow.pipeline.sandbox, []
    for index, (direction, result, _, final_state) in enumerate(TABLE):
        if direction != "outbound":
            continue
        prospect = f"+1312555{index:04d}"
        launched = str(sandbox.launch_call(flow.pipeline.rep_outreach_id, prospect)["id"])
        answer = flow.dial(launched, prospect)
        assert (answer.status_code, answer.json()["status"]) == (201, "placed"), answer.text
        created = flow.twilio.created[-1]
        assert created.get("StatusCallback") == callback_url(
            flow.connection, outreach_call_id=launched
        )
        placed.append((created, launched, prospect, result, final_state))
    start = datetime.now(UTC)  # Twilio's callbacks come after the dials
    calls = []
    for created, launched, prospect, result, final_state in placed:
        calls.append(
            outbound_call(
                created.get("StatusCallback"),
                result,
                final_state,
                prospect=prospect,
                start=start,
                outreach_call_id=launched,
                sid=created.sid,
                machine_detection=False,  # off by default: the table ends the same
            )
        )
    arrivals = [callback for call in calls for callback in call.arrivals(rng)]
    rng.shuffle(arrivals)
    for callback in arrivals:
        assert deliver(callback).status_code == 200

    ids = [call.call_sid for call in calls]
    eventually(
        lambda: Call.objects.filter(provider_call_id__in=ids, status="done").count() == len(ids)
    )
    wrong = {}
    for call in calls:
        ours = Call.objects.get(provider_call_id=call.call_sid)
        attributes = flow.pipeline.sandbox.call(ours.outreach_call_id)["call"]["attributes"]
        link = call.recording and recording_link(flow.connection, call.recording.rsplit("/", 1)[1])
        has = (attributes["state"], attributes.get("recordingUrl"))
        if has != (call.final_state, link or None):
            wrong[call.call_sid] = (has, call.final_state, link)
    assert wrong == {}
    assert len(flow.twilio.created) == len(calls)  # one Twilio call per dial
    assert refusals(flow.pipeline.sandbox) == []


def test_an_inbound_call_the_agent_misses_leaves_a_voicemail_that_plays_from_our_link(
    flow: TwilioFlow,
) -> None:
    """Twilio runs our TwiML as it would: asks the voice URL, dials the <Client> with its
    statusCallback, asks the <Dial>'s action, records the <Record> and reports it."""
    twilio, connection, caller = flow.twilio, flow.connection, "+14155550123"
    parent, child = twilio.new_sid(), twilio.new_sid()
    now = datetime.now(UTC) - timedelta(seconds=40)
    comes_in = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": parent,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": caller,
        "To": OUR_NUMBER,
    }
    [dial] = list(twiml(voice_url(connection), comes_in))
    [client] = list(dial)
    assert (client.tag, client.text) == ("Client", "rita")
    leg = {"frm": caller, "to": "client:rita", "ParentCallSid": parent}
    for seq, (leg_status, at) in enumerate(
        [("initiated", now), ("ringing", now), ("no-answer", now + timedelta(seconds=20))]
    ):
        params = status(child, "outbound-dial", leg_status, at, seq, **leg)
        assert deliver(Callback(client.attrib["statusCallback"], params)).status_code == 200

    after = comes_in | {"CallStatus": "in-progress", "DialCallStatus": "no-answer"}
    say, record = list(twiml(dial.attrib["action"], after))
    assert (say.tag, record.tag) == ("Say", "Record")
    left_at = now + timedelta(seconds=22)
    recorded = record.attrib["recordingStatusCallback"]
    for recording_status in ("in-progress", "completed"):
        params = recording(parent, recording_status, "RecordVerb", left_at, 9)
        assert deliver(Callback(recorded, params)).status_code == 200
    voicemail_sid = params["RecordingSid"]
    twilio.add_recording_as(voicemail_sid)
    [hangup] = list(twiml(record.attrib["action"], after))
    assert hangup.tag == "Hangup"
    ended = status(parent, "inbound", "completed", left_at + timedelta(seconds=9), 1,
                   frm=caller, to=OUR_NUMBER, CallDuration="32")  # fmt: skip
    assert deliver(Callback(callback_url(connection), ended)).status_code == 200

    eventually(lambda: Call.objects.filter(provider_call_id=parent, status="done").exists())
    ours = Call.objects.get(provider_call_id=parent)
    attributes = flow.pipeline.sandbox.call(ours.outreach_call_id)["call"]["attributes"]
    link = recording_link(connection, voicemail_sid)
    assert (attributes["state"], attributes.get("voicemailRecordingUrl")) == ("no answer", link)
    played = httpx.get(link, timeout=30)
    assert (played.status_code, played.content) == (200, twilio.recordings[voicemail_sid])
    assert refusals(flow.pipeline.sandbox) == []


@pytest.mark.browser
def test_a_reps_browser_plays_a_recording_link_and_seeks_in_it(flow: TwilioFlow) -> None:
    # Five minutes (4.8 MB) sent at 512 kB/s: the player cannot have the end by the time it
    # seeks there, so the seek is a new Range the portal passes on.
    flow.twilio.media_bytes_per_second = 512 * 1024
    sid = flow.twilio.add_recording(seconds=300)
    link = recording_link(flow.connection, sid)
    with browser_page("--autoplay-policy=no-user-gesture-required", "--mute-audio") as page:
        page.goto(link)
        played = page.evaluate(
            """async () => {
                const media = document.querySelector("video, audio");
                await media.play();
                await new Promise((done) => {
                    const check = () => media.currentTime > 0.2 ? done() : setTimeout(check, 50);
                    check();
                });
                const seeked = new Promise((done) => media.addEventListener("seeked", done));
                media.currentTime = 250;
                await seeked;
                return {duration: media.duration, at: media.currentTime, paused: media.paused};
            }"""
        )
    assert round(played["duration"]) == 300 and played["at"] >= 250 and not played["paused"]
    ranges = [request["range"] for request in flow.twilio.media_requests]
    # The page's own load asks for it whole, the player from the start.
    assert "bytes=0-" in ranges
    # The seek asked Twilio, through the portal, for the audio from the middle on.
    assert any(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranges), ranges


def test_a_call_placed_rep_first_follows_the_prospects_leg(flow: TwilioFlow) -> None:
    """The rep's Twilio client rings first; once Rita answers, Twilio asks our voice URL and
    dials the prospect as a <Number> of her call. A second dial Rita does not answer fails."""
    flow.connection.set_setup_values({**SETUP, "leg_order": "rep"})
    flow.connection.save()
    sandbox, rep_id = flow.pipeline.sandbox, flow.pipeline.rep_outreach_id
    answered_id, missed_id = (
        str(sandbox.launch_call(rep_id, number)["id"])
        for number in ("+13125550901", "+13125550902")
    )
    assert flow.dial(answered_id, "+13125550901").status_code == 201
    assert flow.dial(missed_id, "+13125550902").status_code == 201
    answered, missed = flow.twilio.created
    assert (answered.get("To"), missed.get("To")) == ("client:rita", "client:rita")

    now = datetime.now(UTC)
    rep = {"frm": OUR_NUMBER, "to": "client:rita"}
    rita_answers = status(answered.sid, "outbound-api", "in-progress", now, 1, **rep)
    assert deliver(Callback(answered.get("StatusCallback"), rita_answers)).status_code == 200
    [dial] = list(twiml(answered.get("Url"), rita_answers | {"CallStatus": "in-progress"}))
    [number] = list(dial)
    assert (number.tag, number.text) == ("Number", "+13125550901")
    prospect, leg = flow.twilio.new_sid(), {"frm": OUR_NUMBER, "to": "+13125550901"}
    for seq, (leg_status, at, extra) in enumerate(
        [
            ("initiated", now, {}),
            ("ringing", now + timedelta(seconds=1), {}),
            ("in-progress", now + timedelta(seconds=8), {}),
            ("completed", now + timedelta(seconds=30), {"CallDuration": "22"}),
        ]
    ):
        params = status(prospect, "outbound-dial", leg_status, at, seq,
                        ParentCallSid=answered.sid, **leg, **extra)  # fmt: skip
        assert deliver(Callback(number.attrib["statusCallback"], params)).status_code == 200
    rita_hangs_up = status(answered.sid, "outbound-api", "completed", now + timedelta(seconds=31),
                           2, CallDuration="31", **rep)  # fmt: skip
    assert deliver(Callback(answered.get("StatusCallback"), rita_hangs_up)).status_code == 200
    nobody = status(missed.sid, "outbound-api", "no-answer", now + timedelta(seconds=20), 1, **rep)
    assert deliver(Callback(missed.get("StatusCallback"), nobody)).status_code == 200

    ids = [answered.sid, missed.sid]
    eventually(lambda: Call.objects.filter(provider_call_id__in=ids, status="done").count() == 2)
    states = [
        sandbox.call(call_id)["call"]["attributes"]["state"] for call_id in (answered_id, missed_id)
    ]
    assert states == ["completed", "failed"]
    assert refusals(sandbox) == []
