"""Reading a CCAI Platform call object (the seed's "Call object") into call events.

The same reader serves the session events pushed to our webhook and the call objects polling
fetches (`GET /apps/api/v1/calls/{id}`), and both give every happening the same
de-duplication key (`ccai:<call id>:<happening>`), so whichever arrives first counts and the
other is a repeat.

Where each field comes from (README "Google CCAI Platform"): the direction from `call_type`;
the agent from `agent_info` (its `id`, and `agent_number` as the agent's phone), or the agent
participant of a session event; the times from `created_at`, `queued_at`, `assigned_at`,
`connected_at` and `ends_at`; the recording (or, on an inbound voicemail, the message) from
`recording_url`. The end user's number is not in the call object: it comes from a session
event's external participant (`dn`), or the number we dialled; the number an inbound caller
dialled is `support_number`, and an outbound call's caller id `outbound_number`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.ccai.mapping import Step, Unmapped, direction_of, steps_for
from integrations.events import (
    RECORDING_URL_MAX,
    VOICEMAIL_URL_MAX,
    AgentIdentity,
    CallEvent,
    Direction,
    Happening,
    PhoneNumber,
    normalise_number,
)

LINK_LIMITS = {
    Happening.RECORDING_READY: RECORDING_URL_MAX,
    Happening.VOICEMAIL_LEFT: VOICEMAIL_URL_MAX,
}


def call_id_of(call: dict[str, Any]) -> str:
    """The platform's call id (an integer in its documents), as text; "" when absent."""
    value = call.get("id", call.get("call_id"))
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return ""
    return str(value)[:200]


def call_events(
    call: dict[str, Any],
    *,
    kind: str,
    region: str,
    end_user_number: str = "",
    agent: AgentIdentity | None = None,
    raw: Any = None,
) -> list[CallEvent]:
    """The happenings `call` implies; `Unmapped` (naming the field) for a value the platform
    does not document, `ValueError` for a call object we cannot read at all."""
    call_id = call_id_of(call)
    if not call_id:
        raise ValueError("the call object has no id")
    direction = direction_of(_text(call, "call_type"))
    recording_url = _text(call, "recording_url")
    steps = steps_for(
        direction=direction,
        status=_text(call, "status"),
        fail_reason=_text(call, "fail_reason"),
        recording_url=recording_url,
    )
    numbers = _numbers(call, direction=direction, end_user_number=end_user_number, region=region)
    who = agent if agent is not None else agent_of(call.get("agent_info"))
    return [
        CallEvent(
            dedup_key=f"ccai:{call_id}:{step.happening}",
            provider=kind,
            provider_call_id=call_id,
            direction=direction,
            happening=step.happening,
            occurred_at=_when(call, step),
            from_number=numbers[0],
            to_number=numbers[1],
            agent=who,
            link=_link(step),
            raw=raw if raw is not None else call,
        )
        for step in steps
    ]


def agent_of(info: Any) -> AgentIdentity:
    """`agent_info`: its id is what the Agents page maps (the call object carries no email)."""
    if not isinstance(info, dict):
        return AgentIdentity()
    agent_id = info.get("id")
    number = info.get("agent_number")
    return AgentIdentity(
        id=str(agent_id) if isinstance(agent_id, int | str) and agent_id != "" else "",
        phone=number if isinstance(number, str) else "",
    )


def _numbers(
    call: dict[str, Any], *, direction: Direction, end_user_number: str, region: str
) -> tuple[PhoneNumber | None, PhoneNumber | None]:
    """(from, to): the end user is the caller of an inbound call and the callee of an
    outbound one; our side is the number the caller dialled or the caller id we called from."""
    ours_field = "support_number" if direction is Direction.INBOUND else "outbound_number"
    ours = _number(_text(call, ours_field), region)
    theirs = _number(end_user_number, region)
    return (theirs, ours) if direction is Direction.INBOUND else (ours, theirs)


def _number(raw: str, region: str) -> PhoneNumber | None:
    return normalise_number(raw, default_region=region) if raw.strip() else None


def _when(call: dict[str, Any], step: Step) -> datetime:
    for name in (*step.when, "created_at"):
        text = _text(call, name)
        if text:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{name} {text!r} is not an ISO 8601 date-time") from None
            if moment.tzinfo is None:
                raise ValueError(f"{name} {text!r} has no time zone")
            return moment
    raise ValueError(f"the call object has none of {', '.join(step.when)} nor created_at")


def _link(step: Step) -> str:
    if not step.link:
        return ""
    limit = LINK_LIMITS[step.happening]
    if not step.link.startswith(("http://", "https://")):
        raise ValueError("recording_url is not an http(s) URL")
    if len(step.link) > limit:
        raise ValueError(f"recording_url is longer than Outreach's {limit} characters")
    return step.link


def _text(call: dict[str, Any], name: str) -> str:
    value = call.get(name)
    return value if isinstance(value, str) else ""


__all__ = ["Unmapped", "agent_of", "call_events", "call_id_of"]
