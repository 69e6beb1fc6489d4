"""How the Finesse connector's events become happenings: pure, no Django (README "Cisco Finesse",
the mapping table).

The connector (Acqueon's, for Cisco Finesse; seed 002) re-publishes each Finesse dialog
notification as JSON: `{"channel": "Cisco", "topic": "OutboundCall", "subtopic":
"OutBoundCallStateChange", "data": {"event", "call": {...}}}`. The dialog is under
`data.call.ResponseActual.dialog`, exactly as Finesse's REST API spells it (`id`, `state`,
`participants`, `mediaProperties`), with the connector's `CallState`, `CallStateChangeTime` and
`Type` added; `data.call.ResponseFields` is the connector's flattened copy of the same. When the
two disagree, ResponseActual wins: it is Finesse's own Dialog object (the one with the dialog
id, the uri and each participant's `mediaAddressType`), while ResponseFields is a summary the
connector made for display. The disagreement is kept in the event's notes for support staff.

Each event is a snapshot of the whole dialog, so it is read on its own: what the dialog and its
participants' states say has happened so far. One call is one Unified CCE call key
(`callKeyPrefix`-`callKeyCallId`), which survives a transfer or a conference that gives the
dialog a new id; without a call key (Unified CCX has none) the dialog id is the call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integrations.events import AgentIdentity, Direction, Happening
from integrations.provider import WebhookRejected

H = Happening
CHANNEL = "Cisco"
# The seed's envelope is the connector's outbound one; its inbound messages carry the topic
# InboundCall (its "Make a Call" page). The direction is read from the dialog either way.
TOPICS = {"OutboundCall": "outboundcallstatechange", "InboundCall": "inboundcallstatechange"}

# Finesse's voice dialog states, and the participant states beside them
# (https://developer.cisco.com/docs/finesse/state-dialog-parameter-values,
# .../state-participant-parameter-values).
DIALOG_STATES = ("INITIATING", "INITIATED", "ALERTING", "ACTIVE", "FAILED", "DROPPED", "ACCEPTED")
PARTICIPANT_STATES = (*DIALOG_STATES, "HELD", "WRAP_UP")
# The connector's `data.event` names the state that changed: a dialog's or a participant's.
EVENTS = PARTICIPANT_STATES
FAILURE_CAUSES = ("BUSY", "BAD_DESTINATION", "OTHER")
AGENT_DEVICE = "AGENT_DEVICE"

# Finesse's `mediaProperties.callType` (Dialog API parameters). The dialer's and an agent's own
# outgoing calls are outbound; routed calls are inbound. The others (consults, conferences,
# supervisor monitoring, ...) say nothing about the customer's call: the connector's `Type`
# decides them.
OUTBOUND_CALL_TYPES = frozenset(
    {
        "OUT",
        "AUTO_OUT",
        "AGENT_OUT",
        "OUTBOUND",
        "OUTBOUND_PREVIEW",
        "OUTBOUND_DIRECT_PREVIEW",
        "OUTBOUND_CALLBACK",
        "OUTBOUND_PERSONAL_CALLBACK",
    }
)
INBOUND_CALL_TYPES = frozenset(
    {"ACD_IN", "PREROUTE_ACD_IN", "PREROUTE_DIRECT_AGENT", "OTHER_IN", "OVERFLOW_IN", "TRANSFER"}
)
TYPES = {"outbound": Direction.OUTBOUND, "inbound": Direction.INBOUND}

# The Outbound Option dialer's call progress analysis result, in the `BAResponse` call variable
# (CPA_Voice in the seed; Cisco's community threads show CPA_AnswerMachine for a machine). An
# answering machine or a fax answered, not a person; any other value is taken for a person and
# noted as unmapped.
PERSON_RESPONSES = frozenset({"CPA_Voice"})
MACHINE_RESPONSES = frozenset(
    {
        "CPA_AnswerMachine",
        "CPA_AnsweringMachine",
        "CPA_AnswerMachineTerminateTone",
        "CPA_AMD",
        "CPA_Fax",
    }
)

# Field names that hold a secret, at any depth (the connector sends the agent's Finesse
# password as `user.password`).
SECRET_NAME = re.compile(
    r"password|passwd|passcode|passphrase|^pass$|pwd|secret|credential", re.IGNORECASE
)
REMOVED = "(removed by Callbridge)"
# Stray spaces in the seed's times ("2019-11-21T06: 39: 34.188Z"): any white space, the
# non-breaking ones included, and the invisible ones documentation tools leave.
STRAY_SPACE = re.compile(r"[\s\u200b\u2060\ufeff]+")


def strip_secrets(value: Any) -> Any:
    """A copy of a JSON value without the value of any field named like a password or secret."""
    if isinstance(value, dict):
        return {
            key: REMOVED if SECRET_NAME.search(str(key)) else strip_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [strip_secrets(item) for item in value]
    return value


def parse_time(value: Any, where: str, *, call_id: str = "") -> datetime:
    """An ISO 8601 time with stray spaces taken out; 422 naming the field otherwise."""
    text = STRAY_SPACE.sub("", value) if isinstance(value, str) else ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise WebhookRejected(
            f"{where} {str(value)[:60]!r} is not an ISO 8601 time with a time zone.",
            status=422,
            provider_call_id=call_id,
        )
    return moment


@dataclass(frozen=True)
class Participant:
    address: str  # mediaAddress: an agent's extension or the customer's number
    is_agent: bool  # mediaAddressType AGENT_DEVICE
    state: str
    cause: str  # stateCause, for FAILED
    changed_at: datetime | None


@dataclass
class DialogReading:
    """What one connector event says about one call."""

    call_id: str  # the call key, or the dialog id without one
    dialog_id: str
    direction: Direction
    happenings: list[tuple[Happening, datetime]]
    agent: AgentIdentity
    customer: str  # the customer's number as Finesse has it
    our_number: str  # inbound: the number called (DNIS)
    outreach_call_id: str
    notes: list[str] = field(default_factory=list)  # unmapped values and disagreements


@dataclass(frozen=True)
class Settings:
    dial_prefix: str = ""  # the dial plan's prefix for outside numbers, removed from numbers
    outreach_call_variable: str = ""  # the call variable a placed call carries its Outreach id in


def is_dialog_event(payload: Any) -> bool:
    """A dialog's state change, as opposed to the connector's other messages."""
    return (
        isinstance(payload, dict)
        and payload.get("channel") == CHANNEL
        and TOPICS.get(str(payload.get("topic"))) == str(payload.get("subtopic")).lower()
    )


def read_event(payload: dict[str, Any], settings: Settings) -> DialogReading:
    data = _object(payload.get("data"), "data")
    call = _object(data.get("call"), "data.call")
    actual = _object(call.get("ResponseActual"), "data.call.ResponseActual")
    dialog = _object(actual.get("dialog"), "data.call.ResponseActual.dialog")
    where = "data.call.ResponseActual.dialog"
    dialog_id = _text(dialog.get("id")) or _text(call.get("id"))
    if not dialog_id:
        raise WebhookRejected(f"{where}.id is missing: the event names no dialog.", status=422)
    media = _maybe_object(dialog.get("mediaProperties"))
    prefix, number = _text(media.get("callKeyPrefix")), _text(media.get("callKeyCallId"))
    call_id = f"{prefix}-{number}" if prefix and number else f"dialog-{dialog_id}"
    notes: list[str] = []

    state = _text(dialog.get("state")) or _text(dialog.get("CallState"))
    if state not in DIALOG_STATES:
        raise WebhookRejected(
            f"{where}.state {state or '(none)'!r} is unmapped: not a Finesse voice dialog state "
            f"({', '.join(DIALOG_STATES)}).",
            status=422,
            provider_call_id=call_id,
        )
    event = _text(data.get("event")).upper().replace("-", "_")
    if event and event not in EVENTS:
        raise WebhookRejected(
            f"data.event {data.get('event')!r} is unmapped: not a dialog or participant state "
            f"Finesse documents ({', '.join(EVENTS)}).",
            status=422,
            provider_call_id=call_id,
        )
    participants = _participants(dialog, where, call_id=call_id)
    changed = dialog.get("CallStateChangeTime")
    dialog_time = (
        parse_time(changed, f"{where}.CallStateChangeTime", call_id=call_id)
        if changed
        else max((p.changed_at for p in participants if p.changed_at), default=None)
    )
    if dialog_time is None:
        raise WebhookRejected(
            f"{where} has no time: neither CallStateChangeTime nor a participant's "
            "stateChangeTime.",
            status=422,
            provider_call_id=call_id,
        )
    notes += _disagreements(dialog, call.get("ResponseFields"))

    direction = _direction(dialog, media, notes, call_id=call_id)
    variables = _call_variables(call, media)
    user = _maybe_object(actual.get("user"))
    agent = _agent(participants, user)
    customer = next((p for p in participants if not p.is_agent), None)
    if direction is Direction.OUTBOUND:
        customer_number = _text(dialog.get("toAddress")) or _text(media.get("dialedNumber"))
        our_number = ""
    else:
        customer_number = _text(dialog.get("fromAddress"))
        our_number = _text(media.get("DNIS")) or _text(dialog.get("toAddress"))
    machine = _machine_answered(variables, notes)
    if state == "FAILED":
        notes.append(_failure_reason(participants))
    happenings = _happenings(
        state,
        direction=direction,
        agent=agent,
        customer=customer,
        participants=participants,
        at=dialog_time,
        machine=machine,
    )
    return DialogReading(
        call_id=call_id,
        dialog_id=dialog_id,
        direction=direction,
        happenings=happenings,
        agent=AgentIdentity(
            extension=agent.address if agent else _text(user.get("extension")),
            id=_text(user.get("username")),
        ),
        customer=_without_prefix(customer_number, settings.dial_prefix),
        our_number=our_number,
        outreach_call_id=variables.get(settings.outreach_call_variable, "")
        if settings.outreach_call_variable
        else "",
        notes=notes,
    )


def _happenings(
    state: str,
    *,
    direction: Direction,
    agent: Participant | None,
    customer: Participant | None,
    participants: list[Participant],
    at: datetime,
    machine: bool | None,
) -> list[tuple[Happening, datetime]]:
    """What the dialog's snapshot says has happened (README's mapping table)."""
    outbound = direction is Direction.OUTBOUND
    answer = H.ANSWERED_BY_VOICEMAIL if machine else H.ANSWERED
    if state in ("INITIATING", "INITIATED"):
        # The agent's phone is off the hook or dialling: only an outbound call has begun.
        return [(H.DIALLING, at)] if outbound else []
    if state == "ALERTING":
        return [(H.RINGING, at)]
    if state == "ACCEPTED":
        return []  # a preview reservation accepted: the customer's call is dialled next
    if state == "FAILED":
        causes = [p.cause for p in participants if p.state == "FAILED" and p.cause]
        return [(H.REJECTED if "BUSY" in causes else H.SETUP_FAILED, at)]
    if state == "ACTIVE":
        if customer is None:
            return [(H.DIALLING, at)] if outbound else []
        if customer.state == "ALERTING":
            return [(H.RINGING, customer.changed_at or at)]
        if customer.state == "DROPPED" and agent is not None and agent.state != "ALERTING":
            # The customer hung up an established call; the agent is still on it or wrapping up.
            return [(H.ENDED, customer.changed_at or at)]
        connected = customer.state in ("ACTIVE", "HELD")
        # Inbound: the call is answered when the agent's device is (the caller is connected to
        # the queue before that).
        agent_connected = agent is None or agent.state in ("ACTIVE", "HELD", "WRAP_UP")
        if connected and (outbound or agent_connected):
            answered_at = (customer if outbound else agent) or customer
            moment = answered_at.changed_at if answered_at.state == "ACTIVE" else None
            return [(answer, moment or at)]
        ringing = any(p.state == "ALERTING" for p in participants)
        return [(H.RINGING, at)] if ringing else []
    # DROPPED: the dialog has no active participant left.
    if _was_answered(participants, customer, machine):
        return [(H.ENDED, at)]
    return [(_unanswered(direction, agent, customer), at)]


# What a FAILED dialog's cause means, for the call's timeline (Finesse reports a refused
# MAKE_CALL this way too: its 202 only said the request was accepted).
FAILURES = {
    "BUSY": "the number called is busy",
    "BAD_DESTINATION": "the number called cannot be reached (bad destination)",
    "OTHER": "Finesse could not set up the call (an agent not signed in or not ready, a "
    "device out of service, ...)",
}


def _failure_reason(participants: list[Participant]) -> str:
    cause = next((p.cause for p in participants if p.state == "FAILED" and p.cause), "")
    if cause and cause not in FAILURES:
        return f"Finesse failed the call with the unmapped cause {cause!r}: taken as OTHER"
    return f"Finesse failed the call ({cause or 'no cause given'}): {FAILURES[cause or 'OTHER']}"


def _was_answered(
    participants: list[Participant], customer: Participant | None, machine: bool | None
) -> bool:
    """Whether a dropped dialog had been answered, from what its last snapshot still shows: an
    agent wrapping up (Finesse wraps up after a handled call), the customer still connected
    when the agent's leg dropped, or the dialer's call progress analysis having heard a person
    or a machine."""
    if any(p.state == "WRAP_UP" for p in participants):
        return True
    if customer is not None and customer.state in ("ACTIVE", "HELD"):
        return True
    return machine is not None


def _unanswered(
    direction: Direction, agent: Participant | None, customer: Participant | None
) -> Happening:
    """Who dropped a dialog nobody answered: the side whose participant dropped first."""
    agent_time = agent.changed_at if agent else None
    customer_time = customer.changed_at if customer else None
    if agent_time and customer_time:
        agent_first = agent_time < customer_time
    else:
        agent_first = customer is None or customer.state != "DROPPED"
    if direction is Direction.OUTBOUND:
        # The agent giving up is the caller cancelling; the far end clearing is its time-out.
        return H.CALLER_HUNG_UP if agent_first else H.NOT_ANSWERED
    # The caller hanging up while it rang, or the agent's phone ringing out.
    return H.NOT_ANSWERED if agent_first else H.CALLER_HUNG_UP


def _participants(dialog: dict[str, Any], where: str, *, call_id: str) -> list[Participant]:
    holder = dialog.get("participants")
    items = holder.get("participant") if isinstance(holder, dict) else holder
    if isinstance(items, dict):  # one participant, as XML-to-JSON converters write it
        items = [items]
    if not isinstance(items, list) or not items:
        raise WebhookRejected(
            f"{where}.participants is missing or empty: Finesse lists at least the agent.",
            status=422,
            provider_call_id=call_id,
        )
    read = []
    for index, item in enumerate(items):
        here = f"{where}.participants.participant[{index}]"
        if not isinstance(item, dict):
            raise WebhookRejected(
                f"{here} must be an object.", status=422, provider_call_id=call_id
            )
        state = _text(item.get("state"))
        if state not in PARTICIPANT_STATES:
            raise WebhookRejected(
                f"{here}.state {state or '(none)'!r} is unmapped: not a Finesse participant "
                f"state ({', '.join(PARTICIPANT_STATES)}).",
                status=422,
                provider_call_id=call_id,
            )
        if item.get("startTime"):
            parse_time(item["startTime"], f"{here}.startTime", call_id=call_id)
        changed = item.get("stateChangeTime")
        read.append(
            Participant(
                address=_text(item.get("mediaAddress")),
                is_agent=_text(item.get("mediaAddressType")) == AGENT_DEVICE,
                state=state,
                cause=_text(item.get("stateCause")).upper(),
                changed_at=parse_time(changed, f"{here}.stateChangeTime", call_id=call_id)
                if changed
                else None,
            )
        )
    return read


def _agent(participants: list[Participant], user: Mapping[str, Any]) -> Participant | None:
    """The signed-in agent's participant: the agent device at the user's extension, else the
    first agent device (a consult's other agent comes second)."""
    agents = [p for p in participants if p.is_agent]
    extension = _text(user.get("extension"))
    return next((p for p in agents if p.address == extension), agents[0] if agents else None)


def _direction(
    dialog: dict[str, Any], media: dict[str, Any], notes: list[str], *, call_id: str
) -> Direction:
    call_type = _text(media.get("callType"))
    given = _text(dialog.get("Type")).lower()
    if call_type in OUTBOUND_CALL_TYPES:
        return Direction.OUTBOUND
    if call_type in INBOUND_CALL_TYPES:
        return Direction.INBOUND
    if given in TYPES:
        if call_type:
            notes.append(f"callType {call_type!r} unmapped: the direction is the dialog's Type")
        return TYPES[given]
    raise WebhookRejected(
        f"The dialog's direction is unknown: mediaProperties.callType {call_type or '(none)'!r} "
        f"and Type {given or '(none)'!r} say neither inbound nor outbound.",
        status=422,
        provider_call_id=call_id,
    )


def _call_variables(call: dict[str, Any], media: dict[str, Any]) -> dict[str, str]:
    """The connector's CallVariables (the dialer's BA* ones among them), and Finesse's own
    `mediaProperties.callvariables` (a list of name/value pairs, or an object)."""
    variables: dict[str, str] = {}
    holder = media.get("callvariables")
    items = holder.get("CallVariable") if isinstance(holder, dict) else holder
    if isinstance(items, dict) and "name" in items:
        items = [items]
    if isinstance(items, list):
        variables |= {
            _text(item.get("name")): _text(item.get("value"))
            for item in items
            if isinstance(item, dict)
        }
    elif isinstance(holder, dict):
        variables |= {str(name): _text(value) for name, value in holder.items()}
    connector = call.get("CallVariables")
    if isinstance(connector, dict):
        variables |= {str(name): _text(value) for name, value in connector.items() if value}
    return variables


def _machine_answered(variables: dict[str, str], notes: list[str]) -> bool | None:
    """True when the dialer says a machine answered, False for a person, None when it did not
    analyse the call (not a campaign call)."""
    response = variables.get("BAResponse", "")
    if not response:
        return None
    if response in MACHINE_RESPONSES:
        return True
    if response not in PERSON_RESPONSES:
        notes.append(f"BAResponse {response!r} unmapped: taken for a person answering")
    return False


def _disagreements(dialog: dict[str, Any], fields: Any) -> list[str]:
    if not isinstance(fields, dict):
        return []
    media = _maybe_object(dialog.get("mediaProperties"))
    theirs_media = _maybe_object(fields.get("MediaProperties"))
    pairs = {
        "CallState": (dialog.get("CallState") or dialog.get("state"), fields.get("CallState")),
        "Type": (dialog.get("Type"), fields.get("Type")),
        "fromAddress": (dialog.get("fromAddress"), fields.get("fromAddress")),
        "toAddress": (dialog.get("toAddress"), fields.get("toAddress")),
        "callKeyCallId": (media.get("callKeyCallId"), theirs_media.get("callKeyCallId")),
        "callType": (media.get("callType"), theirs_media.get("callType")),
    }
    return [
        f"ResponseFields.{name} {theirs!r} disagrees with ResponseActual's {ours!r}: "
        "ResponseActual (Finesse's own dialog) wins"
        for name, (ours, theirs) in pairs.items()
        if theirs not in (None, "") and _text(theirs) != _text(ours)
    ]


def _without_prefix(number: str, prefix: str) -> str:
    """A number Finesse dialled through the dial plan, without the plan's outside-line prefix."""
    if prefix and number.startswith(prefix) and len(number) > len(prefix):
        return number[len(prefix) :]
    return number


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebhookRejected(f"{where} is missing or not an object.", status=422)
    return value


def _maybe_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return STRAY_SPACE.sub(" ", str(value)).strip()
