"""The platform's external session events, pushed to our webhook, read into call events.

The platform POSTs a JSON session event each time a call's session changes (Settings > Developer
Settings > Session Data Export > External Session Events; see
https://cloud.google.com/contact-center/ccai-platform/docs/external-session-events). Each update
enriches its `item` with what is known so far: `call_id` and the end user's `dn` (phone number)
from the start, the queue, then the agent participant once one accepts and connects. An item
that carries the call object's own fields (`status`, `fail_reason`, `call_type`, its times and
`recording_url`) is read exactly as a polled call object is (`callobject.py`); a bare call
object (as the seed prints it) is accepted too.

The session's own `state` says less than the call object: it says the call is there and whether
the agent or the end user is connected, not how a call that did not connect failed. So a session
item without `status` gives only what it can say for sure (ringing, or answered once a person
is connected), and its end is read from the call object, which polling fetches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.ccai.callobject import agent_of, call_events, call_id_of
from integrations.ccai.mapping import CALL_TYPES, Unmapped
from integrations.events import AgentIdentity, CallEvent, Direction, Happening, normalise_number
from integrations.provider import WebhookRejected
from portal import clock

SESSION_DIRECTIONS = {"incoming": Direction.INBOUND, "outgoing": Direction.OUTBOUND}
# Session states the documents show while the call lives, and the ones that end it (which say
# nothing about how: the call object's status does).
LIVE_STATES = ("connected",)
ENDED_STATES = ("finished", "disconnected", "ended")
END_USER_TYPES = ("external", "end_user")


def session_events(body: Any, *, kind: str, region: str) -> list[CallEvent]:
    if not isinstance(body, dict):
        raise WebhookRejected("Expected a JSON object (a session event).", status=422)
    item = body.get("item", body)
    if not isinstance(item, dict):
        raise WebhookRejected("item must be an object.", status=422)
    call_id = call_id_of({"id": item.get("call_id", item.get("id"))})
    if not call_id:
        raise WebhookRejected("item.call_id is required (the platform's call id).", status=422)
    end_user_number = _end_user_number(item)
    agent = _agent(item)
    try:
        if "status" in item:
            call = {**item, "id": call_id}
            return call_events(
                call,
                kind=kind,
                region=region,
                end_user_number=end_user_number,
                agent=agent if agent.as_dict() else None,
                raw=body,
            )
        return _from_session_state(
            item,
            call_id=call_id,
            kind=kind,
            region=region,
            end_user_number=end_user_number,
            agent=agent,
            raw=body,
        )
    except (Unmapped, ValueError) as problem:
        raise WebhookRejected(
            f"Unmapped: {problem}.", status=422, provider_call_id=call_id
        ) from None


def _from_session_state(
    item: dict[str, Any],
    *,
    call_id: str,
    kind: str,
    region: str,
    end_user_number: str,
    agent: AgentIdentity,
    raw: Any,
) -> list[CallEvent]:
    direction = _direction(item)
    state = item.get("state")
    if state in ENDED_STATES:
        return []  # how it ended is the call object's to say
    if state not in LIVE_STATES:
        raise Unmapped(f"session state {state!r} is not one the platform documents")
    agent_statuses = {_participant_status(p) for p in _participants(item, ("agent",))}
    end_user_statuses = {_participant_status(p) for p in _participants(item, END_USER_TYPES)}
    # Inbound, the end user is connected from the start (to the menu, the queue): a person has
    # answered once the agent is connected. Outbound, the agent is connected first: the call is
    # answered once the end user (the callee) is.
    answered = "connected" in (
        agent_statuses if direction is Direction.INBOUND else end_user_statuses
    )
    if answered:
        happening = Happening.ANSWERED
    else:
        happening = Happening.RINGING if direction is Direction.INBOUND else Happening.DIALLING
    number = normalise_number(end_user_number, default_region=region) if end_user_number else None
    return [
        CallEvent(
            dedup_key=f"ccai:{call_id}:{happening}",
            provider=kind,
            provider_call_id=call_id,
            direction=direction,
            happening=happening,
            occurred_at=_when(item),
            from_number=number if direction is Direction.INBOUND else None,
            to_number=number if direction is Direction.OUTBOUND else None,
            agent=agent,
            raw=raw,
        )
    ]


def _direction(item: dict[str, Any]) -> Direction:
    call_type = item.get("call_type")
    if isinstance(call_type, str) and call_type in CALL_TYPES:
        return CALL_TYPES[call_type]
    direction = item.get("direction")
    if isinstance(direction, str) and direction in SESSION_DIRECTIONS:
        return SESSION_DIRECTIONS[direction]
    raise Unmapped(
        f"direction {direction!r} is not one of incoming, outgoing, and call_type {call_type!r} "
        "is not documented"
    )


def _participants(item: dict[str, Any], types: tuple[str, ...]) -> list[dict[str, Any]]:
    participants = item.get("participants")
    if not isinstance(participants, list):
        return []
    return [p for p in participants if isinstance(p, dict) and p.get("type") in types]


def _participant_status(participant: dict[str, Any]) -> str:
    value = participant.get("status", participant.get("state"))
    return value if isinstance(value, str) else ""


def _end_user_number(item: dict[str, Any]) -> str:
    for participant in _participants(item, END_USER_TYPES):
        dn = participant.get("dn")
        if isinstance(dn, str) and dn.strip():
            return dn[:255]
    return ""


def _agent(item: dict[str, Any]) -> AgentIdentity:
    """The agent participant's id and email, when the event names them; else `agent_info`."""
    for participant in _participants(item, ("agent",)):
        user_id = participant.get("user_id", participant.get("id"))
        email = participant.get("email")
        found = AgentIdentity(
            id=str(user_id) if isinstance(user_id, int | str) and user_id != "" else "",
            email=email[:254] if isinstance(email, str) else "",
        )
        if found.as_dict():
            return found
    return agent_of(item.get("agent_info"))


def _when(item: dict[str, Any]) -> datetime:
    """The event's own time when it gives one; else when it reached us (the platform pushes
    as the transition happens)."""
    for name in ("updated_at", "event_at", "created_at"):
        text = item.get(name)
        if isinstance(text, str) and text:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                continue
            if moment.tzinfo is not None:
                return moment
    return clock.now()
