"""The TwiML Callbridge serves at a connection's voice URL (`views.voice`), built with the `twilio`
package's `VoiceResponse`, one function per step:

- a call comes in (no step): ring the agent the number is set up for, with our status callback
  on the agent's leg, the recording notice first when calls are recorded, and the <Dial>'s
  action pointed back here (`after-dial`);
- `after-dial`: the agent answered -> hang up; busy, no answer or failed -> a <Record> voicemail
  with our recording callback, its action `hang-up` (without one, Twilio would ask this URL
  again and loop);
- `connect-rep`: a call placed prospect first was answered: ring the rep;
- `connect-prospect`: a call placed rep first was answered by the rep: dial the prospect as a
  <Number> with our status callback (the call's state follows this leg), the extension as its
  `sendDigits`, and detection and recording as the connection says;
- `notice`: the recording notice, said to the prospect before a recorded call connects.

https://www.twilio.com/docs/voice/twiml/dial, .../number, .../client, .../record, .../say
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from twilio.twiml.voice_response import Dial, VoiceResponse

from integrations.events import normalise_number
from integrations.twilio.addresses import callback_url, voice_url
from integrations.twilio.dial import STATUS_EVENTS, send_digits
from integrations.twilio.setup import TwilioSetup
from portal.audit.services import audit_record

if TYPE_CHECKING:
    from integrations.models import ProviderConnection

logger = logging.getLogger(__name__)

RING_SECONDS = 20  # how long an agent's phone rings before voicemail takes the call
VOICEMAIL_SECONDS = 120
GREETING = "Nobody can take your call right now. Please leave a message after the tone."
NO_AGENT = "This number is not set up to reach anyone yet. Please leave a message after the tone."
ANSWERED = frozenset({"completed", "answered"})
STATUS_EVENT_LIST = " ".join(STATUS_EVENTS)


def routing_answer(
    step: str,
    *,
    params: Mapping[str, str],
    query: Mapping[str, str],
    connection: ProviderConnection,
    setup: TwilioSetup,
) -> VoiceResponse:
    if step == "after-dial":
        return _after_dial(params, connection=connection)
    if step == "hang-up":
        return _hang_up()
    if step == "connect-rep":
        return _connect_rep(query, setup=setup)
    if step == "connect-prospect":
        return _connect_prospect(query, connection=connection, setup=setup)
    if step == "notice":
        response = VoiceResponse()
        response.say(setup.recording_notice)
        return response
    return _incoming(params, connection=connection, setup=setup)


def _incoming(
    params: Mapping[str, str], *, connection: ProviderConnection, setup: TwilioSetup
) -> VoiceResponse:
    called = normalise_number(params.get("To", ""), default_region="").e164
    agent = setup.agents.get(called, "")
    response = VoiceResponse()
    if not agent:
        # Nobody to ring: the caller may still leave a message, and the admin is told why.
        reason = (
            f"A call to {called or params.get('To', '(no number)')} came in, but the "
            "connection's numbers name no agent for it: it went to voicemail."
        )
        logger.warning("twilio.routing_without_agent connection=%s", connection.pk)
        audit_record(
            action="twilio.routing_without_agent",
            organization=connection.organization,
            target=connection,
            data={"reason": reason, "call_sid": params.get("CallSid", "")},
        )
        response.say(NO_AGENT)
        _voicemail(response, connection=connection)
        return response
    if setup.record_calls and setup.recording_notice:
        response.say(setup.recording_notice)
    dial = Dial(timeout=RING_SECONDS, action=voice_url(connection, step="after-dial"))
    if setup.record_calls:
        _record_dial(dial, callback=callback_url(connection))
    _ring(dial, agent, status_callback=callback_url(connection))
    response.append(dial)
    return response


def _after_dial(params: Mapping[str, str], *, connection: ProviderConnection) -> VoiceResponse:
    response = VoiceResponse()
    if params.get("DialCallStatus", "") in ANSWERED:
        response.hangup()
        return response
    response.say(GREETING)
    _voicemail(response, connection=connection)
    return response


def _voicemail(response: VoiceResponse, *, connection: ProviderConnection) -> None:
    response.record(
        max_length=VOICEMAIL_SECONDS,
        play_beep=True,
        action=voice_url(connection, step="hang-up"),
        recording_status_callback=callback_url(connection),
        recording_status_callback_event="in-progress completed absent",
    )


def _hang_up() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def _connect_rep(query: Mapping[str, str], *, setup: TwilioSetup) -> VoiceResponse:
    response = VoiceResponse()
    if setup.record_calls and setup.recording_notice:
        response.say(setup.recording_notice)
    dial = Dial(caller_id=setup.calls_from or None)
    _ring(dial, query.get("to", ""), status_callback="")
    response.append(dial)
    return response


def _connect_prospect(
    query: Mapping[str, str], *, connection: ProviderConnection, setup: TwilioSetup
) -> VoiceResponse:
    call_id = query.get("outreach_call_id", "")
    status_callback = callback_url(connection, outreach_call_id=call_id)
    dial = Dial(caller_id=setup.calls_from or None)
    if setup.record_calls:
        _record_dial(dial, callback=status_callback)
    attributes: dict[str, str] = {
        "status_callback": status_callback,
        "status_callback_event": STATUS_EVENT_LIST,
        "status_callback_method": "POST",
    }
    if query.get("ext"):
        attributes["send_digits"] = send_digits(query["ext"])
    if setup.machine_detection:
        attributes["machine_detection"] = "Enable"
    if setup.record_calls and setup.recording_notice:
        attributes["url"] = voice_url(connection, step="notice")
    dial.number(query.get("to", ""), **attributes)
    response = VoiceResponse()
    response.append(dial)
    return response


def _record_dial(dial: Dial, *, callback: str) -> None:
    dial.attrs.update(
        {
            "record": "record-from-answer-dual",
            "recordingStatusCallback": callback,
            "recordingStatusCallbackEvent": "completed",
        }
    )


def _ring(dial: Dial, address: str, *, status_callback: str) -> None:
    """The noun for an agent's address: `client:<id>`, `sip:<address>` or a phone number."""
    attributes = (
        {
            "status_callback": status_callback,
            "status_callback_event": STATUS_EVENT_LIST,
            "status_callback_method": "POST",
        }
        if status_callback
        else {}
    )
    if address.startswith("client:"):
        dial.client(address.removeprefix("client:"), **attributes)
    elif address.startswith("sip:"):
        dial.sip(address, **attributes)
    else:
        dial.number(address, **attributes)
