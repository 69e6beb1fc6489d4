"""What the tests need to be Twilio: its account, its signature (computed with the `twilio`
package, as Twilio computes it) and the callbacks of whole calls, as the seed's final-state table
has them."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "ACa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"
AUTH_TOKEN = "5f4dcc3b5aa765d61d8327deb882cf99"
OUR_NUMBER = "+12065550100"  # the Twilio number the connection serves
AGENT = "client:rita"  # what it rings
SETUP = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "numbers": f"{OUR_NUMBER}={AGENT}"}
_sids = itertools.count(1)


def new_sid(prefix: str = "CA") -> str:
    return f"{prefix}{next(_sids):032x}"


def signature(url: str, params: dict[str, str], *, token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for a POST of `params` to `url` (the URL as given to Twilio)."""
    return RequestValidator(token).compute_signature(url, params)


def sent_url(url: str) -> str:
    """What Twilio requests: the URL without its fragment (connection overrides)."""
    return url.split("#", 1)[0]


def twilio_time(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0))


@dataclass
class Callback:
    url: str  # as given to Twilio, fragment included
    params: dict[str, str]


@dataclass
class TwilioCall:
    """One call's callbacks, in the order Twilio sends them, and how Outreach should end up."""

    call_sid: str
    direction: str
    final_state: str
    callbacks: list[Callback] = field(default_factory=list)
    outreach_call_id: str = ""
    recording: str = ""
    voicemail: str = ""

    def arrivals(self, rng: random.Random) -> list[Callback]:
        """The callbacks shuffled, one of them sent twice (a retry)."""
        arrivals = [*self.callbacks, rng.choice(self.callbacks)]
        rng.shuffle(arrivals)
        return arrivals


def status(
    sid: str,
    direction: str,
    status: str,
    at: datetime,
    seq: int,
    *,
    frm: str,
    to: str,
    **extra: str,
) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": status,
        "CallbackSource": "call-progress-events",
        "Called": to,
        "Caller": frm,
        "Direction": direction,
        "From": frm,
        "To": to,
        "SequenceNumber": str(seq),
        "Timestamp": twilio_time(at),
        **extra,
    }


def recording(call_sid: str, status: str, source: str, started: datetime, seconds: int) -> dict:
    sid = f"RE{call_sid[2:]}"
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "RecordingSid": sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}",
        "RecordingStatus": status,
        "RecordingDuration": str(seconds if status == "completed" else 0),
        "RecordingChannels": "1",
        "RecordingStartTime": twilio_time(started),
        "RecordingSource": source,
        "RecordingTrack": "both",
    }


# How each row of the table goes on Twilio: the agent's (or the callee's) leg ends with this
# status, then voicemail may pick up.
INBOUND_OUTCOMES = {
    "answered by the callee": "completed",
    "caller cancels before anyone picks up": "canceled",
    "user rejects": "busy",
    "user rejects and voicemail picks up": "busy",
    "times out": "no-answer",
    "times out and voicemail picks up": "no-answer",
}
OUTBOUND_OUTCOMES = {
    "answered by the callee": "completed",
    "caller cancels before anyone picks up": "canceled",
    "fails to set up": "failed",
    "callee rejects": "busy",
    "callee rejects and voicemail picks up": "completed",  # the machine answers
    "times out": "no-answer",
    "times out and voicemail picks up": "completed",
}


def inbound_call(
    url: str, result: str, final_state: str, *, caller: str, start: datetime
) -> TwilioCall:
    """Someone calls our number; the company's routing <Dial>s the agent, with our URL as the
    statusCallback of the <Number>/<Client> and of its recordings, and as the number's 'call
    status changes' URL."""
    parent, child = new_sid(), new_sid()
    call = TwilioCall(parent, "inbound", final_state)
    at = start
    if result == "fails to set up":
        params = status(parent, "inbound", "failed", at, 0, frm=caller, to=OUR_NUMBER)
        call.callbacks.append(Callback(url, params))
        return call
    leg = {"frm": caller, "to": AGENT, "ParentCallSid": parent}
    outcome = INBOUND_OUTCOMES[result]
    call.callbacks += [
        Callback(url, status(child, "outbound-dial", "initiated", at, 0, **leg)),
        Callback(
            url, status(child, "outbound-dial", "ringing", at + timedelta(seconds=1), 1, **leg)
        ),
    ]
    at += timedelta(seconds=12)
    if outcome == "completed":
        call.callbacks.append(
            Callback(url, status(child, "outbound-dial", "in-progress", at, 2, **leg))
        )
        talk = 47
        at += timedelta(seconds=talk)
        call.callbacks.append(
            Callback(
                url,
                status(child, "outbound-dial", "completed", at, 3, CallDuration=str(talk), **leg),
            )
        )
        conversation = recording(
            parent, "completed", "DialVerb", at - timedelta(seconds=talk), talk
        )
        call.recording = conversation["RecordingUrl"]
        call.callbacks.append(Callback(url, conversation))
    else:
        call.callbacks.append(Callback(url, status(child, "outbound-dial", outcome, at, 2, **leg)))
    if "voicemail" in result:
        message = recording(parent, "in-progress", "RecordVerb", at + timedelta(seconds=4), 0)
        left = recording(parent, "completed", "RecordVerb", at + timedelta(seconds=4), 21)
        call.voicemail = left["RecordingUrl"]
        call.callbacks += [Callback(url, message), Callback(url, left)]
        at += timedelta(seconds=26)
    ended = status(parent, "inbound", "completed", at, 2, frm=caller, to=OUR_NUMBER)
    call.callbacks.append(Callback(url, ended | {"CallDuration": "60"}))
    return call


def outbound_call(
    url: str,
    result: str,
    final_state: str,
    *,
    prospect: str,
    start: datetime,
    outreach_call_id: str,
    sid: str = "",
    machine_detection: bool = True,
) -> TwilioCall:
    """A call placed through Twilio's REST API for an Outreach call (the SID Twilio answered,
    when given), with our URL (naming the Outreach call) as its StatusCallback and
    RecordingStatusCallback; machine detection on unless said otherwise."""
    sid = sid or new_sid()
    call = TwilioCall(sid, "outbound", final_state, outreach_call_id=outreach_call_id)
    leg = {"frm": OUR_NUMBER, "to": prospect}
    outcome = OUTBOUND_OUTCOMES[result]
    at = start
    call.callbacks.append(Callback(url, status(sid, "outbound-api", "initiated", at, 0, **leg)))
    if outcome == "failed":
        call.callbacks.append(Callback(url, status(sid, "outbound-api", "failed", at, 1, **leg)))
        return call
    call.callbacks.append(
        Callback(url, status(sid, "outbound-api", "ringing", at + timedelta(seconds=1), 1, **leg))
    )
    at += timedelta(seconds=15)
    if outcome != "completed":
        call.callbacks.append(Callback(url, status(sid, "outbound-api", outcome, at, 2, **leg)))
        return call
    machine = (
        ({"AnsweredBy": "machine_end_beep"} if "voicemail" in result else {"AnsweredBy": "human"})
        if machine_detection
        else {}
    )
    call.callbacks.append(
        Callback(url, status(sid, "outbound-api", "in-progress", at, 2, **leg, **machine))
    )
    talk = 38
    at += timedelta(seconds=talk)
    done = status(sid, "outbound-api", "completed", at, 3, CallDuration=str(talk), **leg, **machine)
    talked = recording(sid, "completed", "OutboundAPI", at - timedelta(seconds=talk), talk)
    call.recording = talked["RecordingUrl"]
    call.callbacks += [Callback(url, done), Callback(url, talked)]
    return call
