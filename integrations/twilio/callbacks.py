"""How Twilio's callbacks become call events: status callbacks, <Dial> actions and recording
status callbacks, each told apart by what it carries (README: "Twilio", the mapping table).

Twilio answers the caller's leg of an inbound call itself to run the routing, so that leg's
`in-progress` and `completed` say nothing about the agent: the agent's outcome is the leg the
routing's <Dial> opened (`Direction=outbound-dial`, `ParentCallSid`) and the <Dial> action's
`DialCallStatus`, both folded into the parent call. The caller's leg ending (`completed`) counts
as the caller hanging up, which decides only when nothing about the agent did before it.

Order: `Timestamp` has whole seconds, so one leg's callbacks are ordered within their second by
`SequenceNumber` (as milliseconds), and the caller's leg ends at the end of its second, since
Twilio ends the agent's leg before or with the caller's. A <Dial> action carries no time: it is
dated when it reaches us. Keys are per leg and happening, so a retried callback, and a <Dial>
action telling what the agent leg's own callback told, count once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from integrations.events import (
    AgentIdentity,
    CallEvent,
    Direction,
    Happening,
    PhoneNumber,
    normalise_number,
)
from integrations.provider import WebhookRejected
from integrations.twilio.setup import TwilioSetup, agent_identity

H = Happening
STATUS_CALLBACK = "status-callback"
DIAL_ACTION = "dial-action"
RECORDING_STATUS_CALLBACK = "recording-status-callback"
EVENTS = (STATUS_CALLBACK, DIAL_ACTION, RECORDING_STATUS_CALLBACK)

CALL_STATUSES = (
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "canceled",
    "failed",
)
DIAL_CALL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
RECORDING_STATUSES = ("in-progress", "completed", "absent", "failed")
# AnsweredBy when answering-machine detection is on: anything but a person (or "unknown").
MACHINES = frozenset(
    {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
)
INBOUND_DIRECTIONS = frozenset({"inbound", "trunking-terminating"})
OUTBOUND_DIRECTIONS = frozenset({"outbound-api", "trunking-originating"})
AGENT_LEG_DIRECTION = "outbound-dial"
# A status that ends a leg without anyone answering, whatever the leg.
UNANSWERED = {
    "busy": H.REJECTED,
    "no-answer": H.NOT_ANSWERED,
    "canceled": H.CALLER_HUNG_UP,
    "failed": H.SETUP_FAILED,
}
END_OF_SECOND = timedelta(milliseconds=999)


class Leg(StrEnum):
    CALLER = "caller"  # an inbound call's own leg, which Twilio answers to run the routing
    AGENT = "agent"  # a leg an inbound call's <Dial> opened to an agent
    OUTBOUND = "outbound"  # an outbound call's leg (placed through the REST API)
    # The rep's leg of a call placed rep first (its callback URL says `leg=rep`): the prospect's
    # leg, a <Number> of it, decides the call; the rep not answering means it was never placed.
    REP = "rep"


@dataclass(frozen=True)
class Callback:
    """One request from Twilio: its form parameters and what our URL's query said."""

    params: Mapping[str, str]
    outreach_call_id: str  # the Outreach call an outbound call's callback URL names
    agent: str  # the agent the callback URL names, if any (as Twilio would dial them)
    setup: TwilioSetup
    region: str  # the organisation's, for numbers without a country code
    received_at: datetime
    leg: str = ""  # what the URL's query says of the leg: "rep", or "prospect" (reconciliation)
    # Our link for a recording (README "Recording and voicemail links"); Twilio's URL without it.
    recording_link: Callable[[str], str] | None = None

    def text(self, name: str, *, call_id: str = "") -> str:
        value = self.params.get(name, "")
        if not value:
            raise WebhookRejected(f"{name} is missing.", status=422, provider_call_id=call_id)
        return value

    def number(self, name: str) -> PhoneNumber | None:
        value = self.params.get(name, "")
        return normalise_number(value, default_region=self.region) if value else None

    def agent_for(self, twilio_number: PhoneNumber | None) -> AgentIdentity:
        """The URL's agent, else the agent the setup lists for our number."""
        if self.agent:
            return agent_identity(self.agent, region=self.region)
        return self.setup.agent_of(twilio_number.e164) if twilio_number else AgentIdentity()

    def raw(self) -> dict[str, object]:
        query = {"outreach_call_id": self.outreach_call_id, "agent": self.agent, "leg": self.leg}
        return {
            "params": {name: self.params[name] for name in self.params},
            "query": {name: value for name, value in query.items() if value},
        }


def callback_kind(params: Mapping[str, str]) -> str:
    """Which of Twilio's callbacks this is, by what only it carries."""
    if "DialCallStatus" in params:
        return DIAL_ACTION
    if "RecordingStatus" in params:
        return RECORDING_STATUS_CALLBACK
    if "CallSid" in params:
        return STATUS_CALLBACK
    raise WebhookRejected(
        "Not a Twilio call callback: it has no CallSid, DialCallStatus or RecordingStatus.",
        status=422,
    )


def call_events(callback: Callback) -> list[CallEvent]:
    kind = callback_kind(callback.params)
    if kind == DIAL_ACTION:
        return _dial_action(callback)
    if kind == RECORDING_STATUS_CALLBACK:
        return _recording(callback)
    return _status(callback)


# Status callbacks ----------------------------------------------------------------------------


def _status(callback: Callback) -> list[CallEvent]:
    sid = callback.text("CallSid")
    parent = callback.params.get("ParentCallSid", "")
    twilio_direction = callback.params.get("Direction", "")
    if twilio_direction == AGENT_LEG_DIRECTION and not parent:
        raise WebhookRejected(
            f"Leg {sid} was dialled by a call (Direction=outbound-dial) but names no "
            "ParentCallSid, so it cannot be told which call it belongs to.",
            status=422,
            provider_call_id=sid,
        )
    call_id = parent or sid
    status = callback.text("CallStatus", call_id=call_id)
    if status not in CALL_STATUSES:
        raise WebhookRejected(
            f"CallStatus '{status}' is not one Twilio documents ({', '.join(CALL_STATUSES)}).",
            status=422,
            provider_call_id=call_id,
        )
    leg = _leg(callback, parent=parent, twilio_direction=twilio_direction, call_id=call_id)
    if leg is Leg.REP:
        return _rep_leg(callback, status=status, call_id=call_id)
    at = _time(callback, "Timestamp", call_id=call_id)
    sequenced = at + timedelta(milliseconds=min(_integer(callback, "SequenceNumber"), 998))
    answered_by = callback.params.get("AnsweredBy", "")
    answer = H.ANSWERED_BY_VOICEMAIL if answered_by in MACHINES else H.ANSWERED
    happenings: list[tuple[Happening, datetime]]
    if leg is Leg.CALLER and status == "completed":
        happenings = [(H.CALLER_HUNG_UP, at + END_OF_SECOND)]
    elif leg is Leg.CALLER and status == "in-progress":
        happenings = []  # Twilio answered to run the routing: not a person
    elif status in ("queued", "initiated"):
        happenings = [(H.DIALLING if leg is Leg.OUTBOUND else H.RINGING, sequenced)]
    elif status == "ringing":
        happenings = [(H.RINGING, sequenced)]
    elif status == "in-progress":
        happenings = [(answer, sequenced)]
    elif status == "completed":  # a leg that was answered (else it ends otherwise)
        talked = timedelta(seconds=_integer(callback, "CallDuration"))
        happenings = [(answer, sequenced - talked), (H.ENDED, sequenced)]
    else:
        happenings = [(UNANSWERED[status], sequenced)]

    caller, called = callback.number("From"), callback.number("To")
    if leg is Leg.AGENT:
        agent = agent_identity(callback.params.get("To", ""), region=callback.region)
    else:  # our number: the one called on an inbound call, the caller id on an outbound one
        agent = callback.agent_for(called if leg is Leg.CALLER else caller)
    # A dialled leg's numbers are not the call's (the agent's phone, a caller id).
    numbers = (None, None) if parent else (caller, called)
    direction = Direction.OUTBOUND if leg is Leg.OUTBOUND else Direction.INBOUND
    return [
        _event(
            callback,
            key=f"{sid}:{happening}",
            call_id=call_id,
            direction=direction,
            happening=happening,
            at=when,
            numbers=numbers,
            agent=agent,
        )
        for happening, when in happenings
    ]


def _rep_leg(callback: Callback, *, status: str, call_id: str) -> list[CallEvent]:
    """The rep's leg of a call placed rep first: the prospect is dialled only once the rep
    answers, so the rep not answering (busy, no answer, failed, hung up) means the call was
    never placed; anything else is told by the prospect's leg."""
    if status not in UNANSWERED:
        return []
    return [
        _event(
            callback,
            key=f"{call_id}:rep:{status}",
            call_id=call_id,
            direction=Direction.OUTBOUND,
            happening=H.SETUP_FAILED,
            at=_time(callback, "Timestamp", call_id=call_id),
            numbers=(None, None),
            agent=callback.agent_for(callback.number("From")),
        )
    ]


def _leg(callback: Callback, *, parent: str, twilio_direction: str, call_id: str) -> Leg:
    if callback.leg == Leg.REP:
        return Leg.REP
    if callback.outreach_call_id or callback.leg == "prospect":
        return Leg.OUTBOUND
    if parent:
        return Leg.AGENT
    if twilio_direction in INBOUND_DIRECTIONS:
        return Leg.CALLER
    if twilio_direction in OUTBOUND_DIRECTIONS:
        return Leg.OUTBOUND
    raise WebhookRejected(
        f"Direction '{twilio_direction}' is not one Twilio documents for a call's own leg "
        f"({', '.join(sorted(INBOUND_DIRECTIONS | OUTBOUND_DIRECTIONS))}).",
        status=422,
        provider_call_id=call_id,
    )


# <Dial> actions -------------------------------------------------------------------------------


def _dial_action(callback: Callback) -> list[CallEvent]:
    """The outcome of the routing's <Dial>, requested on the caller's call when the <Dial>
    ends; told in the agent leg's own keys, so it counts once with that leg's callback."""
    call_id = callback.text("CallSid")
    status = callback.text("DialCallStatus", call_id=call_id)
    if status not in DIAL_CALL_STATUSES:
        raise WebhookRejected(
            f"DialCallStatus '{status}' is not one Twilio documents "
            f"({', '.join(DIAL_CALL_STATUSES)}).",
            status=422,
            provider_call_id=call_id,
        )
    leg_key = callback.params.get("DialCallSid") or f"{call_id}:dial"
    now = callback.received_at
    if status in ("completed", "answered"):  # answered: a conference's <Dial>
        talked = timedelta(seconds=_integer(callback, "DialCallDuration"))
        happenings = [(H.ANSWERED, now - talked), (H.ENDED, now)]
    else:
        happenings = [(UNANSWERED[status], now)]
    twilio_direction = callback.params.get("Direction", "")
    leg = _leg(callback, parent="", twilio_direction=twilio_direction, call_id=call_id)
    numbers = (callback.number("From"), callback.number("To"))
    agent = callback.agent_for(numbers[1] if leg is Leg.CALLER else numbers[0])
    return [
        _event(
            callback,
            key=f"{leg_key}:{happening}",
            call_id=call_id,
            direction=Direction.OUTBOUND if leg is Leg.OUTBOUND else Direction.INBOUND,
            happening=happening,
            at=when,
            numbers=numbers,
            agent=agent,
        )
        for happening, when in happenings
    ]


# Recording status callbacks -------------------------------------------------------------------


def _recording(callback: Callback) -> list[CallEvent]:
    """A recording of the call: its link once `completed`. On an inbound call a <Record>
    recording (`RecordingSource=RecordVerb`) is the voicemail the caller left after the agent
    did not take the call; any other recording is the conversation's."""
    call_id = callback.params.get("CallSid", "")
    if not call_id:
        raise WebhookRejected(
            "This recording names no CallSid (a conference's recording?): it cannot be told "
            "which call it belongs to.",
            status=422,
        )
    status = callback.text("RecordingStatus", call_id=call_id)
    if status not in RECORDING_STATUSES:
        raise WebhookRejected(
            f"RecordingStatus '{status}' is not one Twilio documents "
            f"({', '.join(RECORDING_STATUSES)}).",
            status=422,
            provider_call_id=call_id,
        )
    recording = callback.text("RecordingSid", call_id=call_id)
    direction = Direction.OUTBOUND if callback.outreach_call_id else Direction.INBOUND
    voicemail = (
        direction is Direction.INBOUND and callback.params.get("RecordingSource") == "RecordVerb"
    )
    started = _time(callback, "RecordingStartTime", call_id=call_id)
    link = ""
    if status == "completed":
        happening = H.VOICEMAIL_LEFT if voicemail else H.RECORDING_READY
        link = callback.text("RecordingUrl", call_id=call_id)
        if callback.recording_link is not None:
            link = callback.recording_link(recording)
        at = started + timedelta(seconds=_integer(callback, "RecordingDuration"))
    elif status in ("in-progress", "absent") and voicemail:
        happening, at = H.ANSWERED_BY_VOICEMAIL, started  # voicemail picked up
    else:
        return []  # a conversation's recording starting, or one that failed: nothing to link
    return [
        _event(
            callback,
            key=f"{recording}:{happening}",
            call_id=call_id,
            direction=direction,
            happening=happening,
            at=at,
            numbers=(None, None),
            agent=AgentIdentity(),
            link=link,
        )
    ]


# Reading values -------------------------------------------------------------------------------


def _event(
    callback: Callback,
    *,
    key: str,
    call_id: str,
    direction: Direction,
    happening: Happening,
    at: datetime,
    numbers: tuple[PhoneNumber | None, PhoneNumber | None],
    agent: AgentIdentity,
    link: str = "",
) -> CallEvent:
    return CallEvent(
        dedup_key=key[:200],
        provider="twilio",
        provider_call_id=call_id,
        direction=direction,
        happening=happening,
        occurred_at=at,
        outreach_call_id=callback.outreach_call_id,
        from_number=numbers[0],
        to_number=numbers[1],
        agent=agent,
        link=link,
        raw=callback.raw(),
    )


def _time(callback: Callback, name: str, *, call_id: str) -> datetime:
    """An RFC 2822 date Twilio sends (`Tue, 12 Mar 2024 17:03:15 +0000`); when it sent none,
    the moment we heard of it."""
    value = callback.params.get(name, "")
    if not value:
        return callback.received_at
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise WebhookRejected(
            f"{name} '{value}' is not a date as Twilio writes them "
            "(e.g. 'Tue, 12 Mar 2024 17:03:15 +0000').",
            status=422,
            provider_call_id=call_id,
        )
    return moment


def _integer(callback: Callback, name: str) -> int:
    """A count Twilio sends (seconds, a sequence number); 0 when absent or not a count."""
    value = callback.params.get(name, "")
    return int(value) if value.isdigit() else 0
