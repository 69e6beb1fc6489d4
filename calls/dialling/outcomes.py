"""How a dial ends: placed, unconfirmed until the provider's events (or their absence) decide,
or failed - which Outreach hears as `failed`, through a `setup_failed` happening in the inbox,
like every state."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from calls.dialling.selectors import OWN_EVENT_PREFIX, dial_wait_seconds, provider_reported
from calls.inbox import inbox_accept
from calls.models import Call, DialStatus
from integrations.events import AgentIdentity, CallEvent, Direction, Happening, PhoneNumber
from integrations.provider import PlaceCallOutcome, Placed, Refused
from portal import clock
from portal.audit.services import audit_record

logger = logging.getLogger(__name__)

UNSETTLED = (DialStatus.PLACING, DialStatus.UNCONFIRMED)


def own_event(
    call: Call,
    *,
    kind: str,
    happening: Happening,
    at: datetime,
    note: str,
    to_number: PhoneNumber | None = None,
    agent: dict[str, str] | None = None,
) -> CallEvent:
    """A happening Callbridge itself records on a dialled call (found by its Outreach id)."""
    return CallEvent(
        dedup_key=f"{OWN_EVENT_PREFIX}{kind}:{call.outreach_call_id}"[:200],
        provider="callbridge",
        provider_call_id="",
        direction=Direction.OUTBOUND,
        happening=happening,
        occurred_at=at,
        outreach_call_id=call.outreach_call_id,
        to_number=to_number,
        extension=call.extension,
        agent=AgentIdentity(**(agent or {})),
        raw={"recorded_by": "Callbridge", "note": note},
    )


def dial_settle(*, call: Call, outcome: PlaceCallOutcome) -> None:
    """Record the provider's answer: placed, unconfirmed (its events decide), or failed."""
    if isinstance(outcome, Refused):
        dial_fail(call=call, reason=outcome.reason, answer=outcome.answer)
        return
    with transaction.atomic():
        locked = Call.objects.select_for_update(of=("self",)).get(pk=call.pk)
        if locked.dial_status not in UNSETTLED:
            return  # the sweeper settled it meanwhile
        if isinstance(outcome, Placed):
            locked.dial_status, locked.dial_reason, locked.dial_confirm_by = (
                DialStatus.PLACED,
                "",
                None,
            )
            locked.save(update_fields=["dial_status", "dial_reason", "dial_confirm_by"])
            _name_call(locked, outcome.provider_call_id)
            action = "dial.placed"
            data: dict[str, object] = {"provider_call_id": outcome.provider_call_id}
        else:
            locked.dial_status, locked.dial_reason = DialStatus.UNCONFIRMED, outcome.reason[:500]
            wait = outcome.wait_seconds or settings.DIAL_CONFIRM_SECONDS
            locked.dial_confirm_by = clock.now() + timedelta(seconds=wait)
            locked.save(update_fields=["dial_status", "dial_reason", "dial_confirm_by"])
            # The wait is kept with the entry: what the rep reads about the dial names it.
            action, data = "dial.unconfirmed", {"reason": outcome.reason, "wait_seconds": wait}
        audit_record(action=action, organization=locked.organization, target=locked, data=data)


def _name_call(call: Call, provider_call_id: str) -> None:
    """The provider's id for the call, unless its webhook named it already."""
    if not provider_call_id or call.provider_call_id:
        return
    try:
        with transaction.atomic():
            Call.objects.filter(pk=call.pk, provider_call_id="").update(
                provider_call_id=provider_call_id
            )
    except IntegrityError:
        # Its events already made a call of their own under that id (they did not carry the
        # Outreach call id): both stay, and the timeline shows it.
        logger.warning("dial.provider_call_id_taken call=%s id=%s", call.pk, provider_call_id)


def dial_fail(*, call: Call, reason: str, answer: str = "") -> None:
    """The dial failed: Outreach gets `failed` (through the inbox and the pipeline), stamped
    now, and the reason is kept for the rep (the provider's raw `answer`, when it gave one, for
    support staff)."""
    now = clock.now()
    with transaction.atomic():
        locked = (
            Call.objects.select_for_update(of=("self",))
            .select_related("connection", "organization")
            .get(pk=call.pk)
        )
        if locked.dial_status not in UNSETTLED:
            return
        locked.dial_status, locked.dial_reason, locked.dial_confirm_by = (
            DialStatus.FAILED,
            reason[:500],
            None,
        )
        locked.save(update_fields=["dial_status", "dial_reason", "dial_confirm_by"])
        inbox_accept(
            connection=locked.connection,
            events=[
                own_event(
                    locked,
                    kind="dial-failed",
                    happening=Happening.SETUP_FAILED,
                    at=now,
                    note=f"the call could not be placed: {reason}",
                )
            ],
        )
        audit_record(
            action="dial.failed",
            organization=locked.organization,
            target=locked,
            data={"reason": reason, **({"provider_answer": answer[:2000]} if answer else {})},
        )
    logger.info("dial.failed call=%s reason=%s", call.pk, reason)


def dials_settle_unconfirmed(*, limit: int = 100) -> int:
    """Dials whose provider did not confirm them in time (it timed out, or the request placing
    them died): placed if the provider has reported the call since, otherwise failed. Run by
    beat; returns how many were settled."""
    settled = 0
    due = Call.objects.filter(dial_status__in=UNSETTLED, dial_confirm_by__lte=clock.now())
    for call in due.order_by("dial_confirm_by")[:limit]:
        if provider_reported(call=call):
            dial_settle(call=call, outcome=Placed(provider_call_id=""))
        else:
            waited = dial_wait_seconds(call=call)
            reason = (
                f"{call.dial_reason} It reported nothing about the call within {waited} s."
                if call.dial_status == DialStatus.UNCONFIRMED
                else "Placing the call was interrupted, and the phone system reported nothing."
            )
            dial_fail(call=call, reason=reason.strip())
        settled += 1
    return settled
