"""Dials the platform did not name a call for: it answered 202 (the agent finishes in the
widget) or nothing in time. The call, once the agent places it, is the platform's like any other
and its events do not carry Outreach's call id; it is recognised here by the agent (the
platform's agent id or email, as the rep's agent mapping gives them) and, when the event says
it, the number - the oldest such dial of the connection still waiting, and only a call the
platform created after the dial. The matched events then carry the Outreach call id, and the
core finds the dial's call by it (README "Google CCAI Platform: placing calls").
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.db import IntegrityError, transaction

from integrations.ccai.models import CcaiManualDial
from integrations.events import CallEvent, Direction
from integrations.models import ProviderConnection
from integrations.provider import PlaceCallRequest
from portal import clock

# The platform's clock and ours may differ a little: a call created this much before the dial
# was recorded may still be its.
CLOCK_SKEW = timedelta(seconds=5)


def manual_dial_expect(request: PlaceCallRequest, *, wait: timedelta) -> None:
    try:
        with transaction.atomic():
            CcaiManualDial.objects.create(
                connection=request.connection,
                outreach_call_id=request.outreach_call_id,
                agent_email=request.agent.get("email", "")[:254],
                agent_id=request.agent.get("id", "")[:100],
                end_user_number=request.to_number[:32],
                wait_until=clock.now() + wait,
            )
    except IntegrityError:
        pass  # the same dial asked again (a retry): it is expected already


def manual_dial_match(connection: ProviderConnection, events: list[CallEvent]) -> list[CallEvent]:
    """`events`, the outbound ones of a call a waiting dial expects given its Outreach call id."""
    matched: dict[str, str] = {}
    for event in events:
        if event.direction is not Direction.OUTBOUND or event.outreach_call_id:
            continue
        if event.provider_call_id not in matched:
            matched[event.provider_call_id] = _match(connection, event)
    return [
        dataclasses.replace(event, outreach_call_id=matched[event.provider_call_id])
        if matched.get(event.provider_call_id)
        else event
        for event in events
    ]


def _match(connection: ProviderConnection, event: CallEvent) -> str:
    known = CcaiManualDial.objects.filter(
        connection=connection, provider_call_id=event.provider_call_id
    ).first()
    if known is not None:
        return known.outreach_call_id
    email, agent_id = event.agent.email.lower(), event.agent.id
    if not (email or agent_id):
        return ""
    waiting = CcaiManualDial.objects.filter(
        connection=connection,
        provider_call_id="",
        wait_until__gte=clock.now(),
        created__lte=event.occurred_at + CLOCK_SKEW,
    ).order_by("created")
    number = event.to_number.e164 if event.to_number else ""
    for dial in waiting:
        same_agent = (agent_id and dial.agent_id == agent_id) or (
            email and dial.agent_email.lower() == email
        )
        if not same_agent or (number and dial.end_user_number != number):
            continue
        # Claimed by one process only: two events of the call racing take the same dial.
        claimed = CcaiManualDial.objects.filter(pk=dial.pk, provider_call_id="").update(
            provider_call_id=event.provider_call_id
        )
        if (
            claimed
            or CcaiManualDial.objects.filter(
                pk=dial.pk, provider_call_id=event.provider_call_id
            ).exists()
        ):
            return dial.outreach_call_id
    return ""
