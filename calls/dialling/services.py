"""Placing the call a rep dialled.

`dial_place` records the call under Outreach's call id together with a `dialling` happening in
the inbox - committed before anything else, so `initiated` goes out through the pipeline on the
urgent queue while the provider is still being asked - and then asks the organisation's
outbound provider connection to place it (`place_call`, with the dial's deadline and the
Outreach call id as the idempotency key). One Outreach call id is one call: a retried request,
a repeated message or the provider's own webhook all find the call recorded first, and only the
request that recorded it asks the provider.

Whatever keeps the call from being placed - the rep is not mapped, the number is not one, no
connection can place calls, the provider refused - becomes a `setup_failed` happening, so
Outreach gets `failed` (stamped when it was decided) through the pipeline like every state, and
the reason is on the dial's answer, the extension and the call's timeline (`outcomes.py`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction

from calls.dialling.outcomes import dial_fail, dial_settle, own_event
from calls.dialling.selectors import Rep, outbound_route, rep_for
from calls.inbox import inbox_accept
from calls.models import Call, DialStatus
from integrations.events import Direction, Happening, PhoneNumber, normalise_number
from integrations.models import ProviderConnection
from integrations.provider import PlaceCallOutcome, PlaceCallRequest, Refused, Unconfirmed
from integrations.registry import provider_for
from portal import clock
from portal.audit.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.tenancy.models import Organization

logger = logging.getLogger(__name__)

# Pauses between tries after a transient refusal, while the dial's deadline allows.
RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0)


class NothingToDialWith(Exception):
    """The organisation has no telephony connection at all: the call cannot even be recorded
    (Outreach counts it failed when `initiated` does not come)."""


@dataclass(frozen=True)
class DialAsked:
    """What Outreach handed the rep's extension or `tel:` handler."""

    outreach_call_id: str
    number: str
    extension: str = ""
    via: str = "extension"  # or "tel: handler": how the dial reached us, for the timeline
    # What is wrong with the message itself (no number, an unreadable tel: URI): the call is
    # recorded and failed with this reason.
    problem: str = ""


@dataclass(frozen=True)
class Dialled:
    call: Call
    repeat: bool  # the call id was dialled (or reported) before: nothing was placed again


def dial_place(*, user: User, organization: Organization, asked: DialAsked) -> Dialled:
    received = clock.now()
    deadline = received + timedelta(seconds=settings.DIAL_DEADLINE_SECONDS)
    route = outbound_route(organization=organization)
    if route.connection is None:
        raise NothingToDialWith(route.problem)
    rep = rep_for(organization=organization, user=user)
    number = normalise_number(asked.number, default_region=organization.default_region)
    call = _record(
        connection=route.connection,
        user=user,
        rep=rep,
        asked=asked,
        number=number,
        received=received,
        deadline=deadline,
    )
    if call is None:
        existing = Call.objects.get(
            organization=organization, outreach_call_id=asked.outreach_call_id
        )
        return Dialled(call=existing, repeat=True)
    problem = asked.problem or _number_problem(asked, number) or rep.problem or route.problem
    if problem:
        dial_fail(call=call, reason=problem)
    else:
        outcome = _ask_provider(call, connection=route.connection, rep=rep, deadline=deadline)
        dial_settle(call=call, outcome=outcome)
    call.refresh_from_db()
    return Dialled(call=call, repeat=False)


def _number_problem(asked: DialAsked, number: PhoneNumber) -> str:
    if not number.e164:
        return f"“{asked.number}” is not a phone number Callbridge can dial."
    return ""


def _record(
    *,
    connection: ProviderConnection,
    user: User,
    rep: Rep,
    asked: DialAsked,
    number: PhoneNumber,
    received: datetime,
    deadline: datetime,
) -> Call | None:
    """The call and its `dialling` happening, in one transaction; None when the Outreach call
    id is recorded already (this dial is a repeat, or lost a race with its twin)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                call = Call.objects.create(
                    organization_id=connection.organization_id,
                    connection=connection,
                    direction=Direction.OUTBOUND,
                    outreach_call_id=asked.outreach_call_id,
                    outreach_user_id=rep.outreach_user_id,
                    owner=user,
                    to_number=number.best,
                    extension=asked.extension,
                    agent=rep.agent,
                    first_event_at=received,
                    last_event_at=received,
                    dialled_at=received,
                    dial_status=DialStatus.PLACING,
                    # Should this request die while placing, the sweeper settles the dial then.
                    dial_confirm_by=deadline + timedelta(seconds=settings.DIAL_CONFIRM_SECONDS),
                )
        except IntegrityError:
            return None
        # `initiated` is stamped with this moment: the dial, not the provider's answer.
        inbox_accept(
            connection=connection,
            events=[
                own_event(
                    call,
                    kind="dial",
                    happening=Happening.DIALLING,
                    at=received,
                    note=f"dialled by {getattr(user, 'email', '')} through the {asked.via}",
                    to_number=number,
                    agent=rep.agent,
                )
            ],
        )
        audit_record(
            action="call.dialled",
            organization=connection.organization,
            actor=user,
            target=call,
            data={"via": asked.via, "number": asked.number, "extension": asked.extension},
        )
    return call


def _ask_provider(
    call: Call, *, connection: ProviderConnection, rep: Rep, deadline: datetime
) -> PlaceCallOutcome:
    """`place_call`, tried again after a transient refusal while the deadline allows: the
    Outreach call id is the idempotency key, so a second try cannot place a second call."""
    provider = provider_for(connection.kind)
    request = PlaceCallRequest(
        connection=connection,
        outreach_call_id=call.outreach_call_id,
        to_number=call.to_number,
        extension=call.extension,
        agent=rep.agent,
        rep_user_id=call.owner_id,
    )
    for pause in (*RETRY_PAUSES, None):
        try:
            outcome = provider.place_call(
                request, deadline=deadline, idempotency_key=call.outreach_call_id
            )
        except Exception:
            # We cannot tell whether the request left: wait for the provider's events.
            logger.exception("dial.provider_error call=%s", call.pk)
            return Unconfirmed("Callbridge could not tell whether the phone system got the dial.")
        if not isinstance(outcome, Refused) or outcome.permanent:
            return outcome
        if pause is None or clock.now() + timedelta(seconds=pause) >= deadline:
            return outcome
        logger.info("dial.retry call=%s reason=%s", call.pk, outcome.reason)
        time.sleep(pause)
    raise AssertionError("unreachable")
