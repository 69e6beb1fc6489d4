"""Advancing one call: apply what providers told us, then tell Outreach, one request at a time.

`call_advance` repeats three steps until Outreach is up to date or something must wait:

1. claim (a short transaction holding the call's row lock): give every happening its verdict from
   the rules, pick the next request, write its `DeliveryAttempt` as in flight and take a lease;
2. send it through the Outreach client, holding no lock;
3. record (the row lock again): the answer, what Outreach now has, and when to look again.

The lease makes "at most one request in flight per call" hold across any number of workers on
any number of machines. A worker killed between 1 and 3 leaves the lease to expire and the
attempt in flight; whoever claims the call next first asks Outreach what it has (reconcile), so
a lost answer neither loses an update nor sends a final state twice.

Nothing retries for ever: failures back off exponentially (attempts that never left the
building do not count), an unexpected exception is recorded like any failure, and an hour after
the call's give-up deadline (`Organization.give_up_hours` after its last event) delivery stops
and the call is listed for a person.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Subquery
from django.db.models.functions import Coalesce

from calls.doorbell import enqueue_call
from calls.models import (
    AgentMapping,
    AttemptOutcome,
    Call,
    CallStatus,
    DeliveryAttempt,
    InboxEvent,
    InboxStatus,
    Purpose,
    call_is_urgent,
)
from calls.rules import (
    LINK_WINDOW,
    Direction,
    ExternalOutcome,
    Happened,
    Happening,
    OutreachState,
    Update,
    Verdict,
    is_final,
    plan_external_log,
    plan_next_update,
)
from integrations.models import UnmatchedProspect
from integrations.outreach.client import (
    CallAsOutreachHasIt,
    CallCreated,
    CallLogged,
    CallNotLogged,
    CallRequest,
    CallResult,
    CallSearch,
    CallUpdated,
    CreateInboundCall,
    FindCall,
    LogCall,
    OutreachClient,
    ReadCall,
    UpdateCall,
    describe,
    vendor_call_id,
)
from integrations.outreach.errors import (
    Attempt,
    ConnectionUnusable,
    OutreachError,
    OutreachRateLimited,
    TokenEndpointFailing,
)
from integrations.outreach.models import OutreachConnection
from integrations.outreach.selectors import CallConnection, connection_for_call
from portal import clock
from portal.audit.models import AuditEntry
from portal.audit.services import audit_entry, audit_record

logger = logging.getLogger(__name__)

# Longer than one step can take, so a lease only expires when its worker is gone: a step makes
# at most two API requests (a prospect lookup, then the create), each may be sent again after a
# 401, and a token refresh has its own bounded time (integrations/outreach/oauth.py). 60 s with
# the default 10 s read timeout; shorter when OUTREACH_TIMEOUT_SECONDS is (the fault tests).
LEASE = timedelta(seconds=4 * settings.OUTREACH_TIMEOUT_SECONDS + 20)
# Enough for any real call's lifecycle; a call needing more is re-enqueued, not starved.
MAX_STEPS_PER_RUN = 20
MAX_BACKOFF_SECONDS = 300.0
# After an answer was lost, give Outreach time to finish what it may still be doing before
# asking what it has; asking too soon would miss a slow create and make it twice.
RECONCILE_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class Request:
    """One request to make, decided under the row lock and made without it."""

    purpose: Purpose
    attempt_id: int
    call_request: CallRequest
    connection_id: int
    update: Update | None = None  # the planned update an UpdateCall carries


def call_advance(*, call_id: int) -> None:
    # One client per connection for the whole run: its HTTP connection to Outreach is kept alive
    # from one request to the next instead of a new TCP (and TLS) handshake for each.
    clients: dict[int, OutreachClient] = {}
    request: Request | None = None
    sent = False
    try:
        for _ in range(MAX_STEPS_PER_RUN):
            request, sent = None, False
            request = _claim(call_id)
            if request is None:
                return
            if request.connection_id not in clients:
                connection = OutreachConnection.objects.get(pk=request.connection_id)
                clients[request.connection_id] = OutreachClient(connection=connection)
            try:
                result = clients[request.connection_id].send_call_request(request.call_request)
            except OutreachError as error:
                _record_failure(call_id, request, error)
                return
            sent = True
            _record_success(call_id, request, result)
    except Exception as error:
        # A bug or an input nobody foresaw must not wedge the call: record it on the call's
        # timeline and back off like any failure, up to the give-up deadline.
        logger.exception("call.unexpected_error call=%s", call_id)
        _record_failure(call_id, request, _unexpected(error), after_send=sent)
    finally:
        for client in clients.values():
            client.close()


def _unexpected(error: Exception) -> OutreachError:
    return OutreachError(f"Unexpected error: {type(error).__name__}: {error}", permanent=False)


# Step 1: claim -------------------------------------------------------------------------------


def _claim(call_id: int) -> Request | None:
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(pk=call_id)
        ).first()
        if call is None:
            return None  # deleted since the task was sent: nothing left to deliver
        now = clock.now()
        if call.lease_until and call.lease_until > now:
            return None  # another worker is mid-request; it will carry on after it
        if call.due_at is None or call.due_at > now:
            return None
        if call.lease_until is not None:
            # A lease is taken with its attempt and given back with its answer, in the same
            # transactions: one left behind means the worker stopped in between.
            call.lease_until = None
            lost = call.attempts.filter(outcome=AttemptOutcome.IN_FLIGHT).update(
                outcome=AttemptOutcome.UNKNOWN,
                error="The worker stopped before Outreach's answer was recorded.",
            )
            if lost:
                call.needs_reconcile = True
        # The payloads and headers are for people reading the timeline, not for planning.
        events = list(call.events.defer("raw", "headers"))
        if _did_not_start_in_outreach(call):
            return _claim_call_to_log(call, events, now)
        plan = plan_next_update(
            direction=Direction(call.direction),
            happenings=[_happened(event) for event in events],
            reported=call.reported(),
            now=now,
            settle=timedelta(seconds=call.organization.settle_seconds),
        )
        _apply_verdicts(call, events, plan.verdicts)
        call.final_state = str(plan.final_state or "")
        call.ended_at = plan.ended_at
        if plan.late:
            _note_late(call, [event for event in events if str(event.pk) in plan.late])
        needs_create = call.direction == Direction.INBOUND and not call.outreach_call_id
        if plan.update is None and not call.needs_reconcile and not needs_create:
            if plan.settle_until is not None:
                _wait(call, plan.settle_until)
            else:
                _done(call)  # Outreach is up to date: no need to know whose token it takes
            return None

        if needs_create and not (call.from_number and call.to_number):
            # Outreach refuses an inbound call without both numbers. A provider may tell of a
            # call first through a leg or a recording that does not carry them (Twilio's agent
            # leg); the event that does releases the call.
            _hold(
                call,
                "Waiting for the caller's and the called number: Outreach needs both to create "
                "an inbound call, and no event from the provider has said them yet.",
            )
            return None
        chosen = _whose_connection(call, events)
        if chosen is None:
            return None
        connection_id = chosen.connection.pk
        if call.needs_reconcile:
            return _start(call, connection_id, Purpose.RECONCILE, _reconcile_request(call))
        if needs_create:
            create = CreateInboundCall(
                outreach_user_id=chosen.outreach_user_id or call.outreach_user_id,
                from_number=call.from_number,
                to_number=call.to_number,
                vendor_call_id=vendor_call_id(call.provider_call_id),
            )
            return _start(call, connection_id, Purpose.CREATE, create)
        if plan.update is None:
            _done(call)
            return None
        update = UpdateCall(
            call_id=call.outreach_call_id,
            state=str(plan.update.state) if plan.update.state else None,
            state_changed_at=plan.update.state_changed_at,
            recording_url=plan.update.recording_url,
            voicemail_url=plan.update.voicemail_url,
            vendor_call_id=(
                vendor_call_id(call.provider_call_id)
                if call.direction == Direction.OUTBOUND and call.provider_call_id
                else None
            ),
        )
        return _start(call, connection_id, Purpose.UPDATE, update, plan.update)


def _did_not_start_in_outreach(call: Call) -> bool:
    """An outbound call with no Outreach call id (a desk phone, the provider's own app, a
    campaign dialer: any provider), or one we logged in Outreach once it ended (seed 003)."""
    return call.logged_at is not None or (
        call.direction == Direction.OUTBOUND and not call.outreach_call_id
    )


def _claim_call_to_log(call: Call, events: list[InboxEvent], now: datetime) -> Request | None:
    """Such a call has no Outreach call to update: once it has ended and settled, and if its
    connection logs such calls, it is logged once with `POST /calls`; nothing is sent after."""
    plan = plan_external_log(
        happenings=[_happened(event) for event in events],
        logged=call.reported(),
        now=now,
        settle=timedelta(seconds=call.organization.settle_seconds),
    )
    _apply_verdicts(call, events, plan.verdicts)
    call.final_state = str(plan.final_state or "")
    call.ended_at = plan.ended_at
    if plan.late:
        _note_late(call, [event for event in events if str(event.pk) in plan.late])
    if call.logged_at is not None and not call.needs_reconcile:
        _done(call)  # logged once: a repeated or late event changes nothing in Outreach
        return None
    if not call.connection.log_external_calls:
        _done(
            call,
            note=f"Shown here only: this call did not start in Outreach (no Outreach call id), "
            f"and the connection {call.connection.name} does not log such calls in Outreach "
            "(an admin can turn that on on the Telephony page).",
        )
        return None
    if plan.log is None and not call.needs_reconcile:
        if plan.settle_until is not None:
            _wait(call, plan.settle_until)
        else:
            _done(
                call,
                note="Did not start in Outreach: it is logged there once the provider says it "
                "has ended (or at the give-up deadline).",
            )
        return None
    chosen = _whose_connection(call, events)
    if chosen is None:
        return None
    connection_id = chosen.connection.pk
    if call.needs_reconcile:
        return _start(call, connection_id, Purpose.RECONCILE, _reconcile_request(call))
    assert plan.log is not None  # settled and not logged yet: checked above
    log = LogCall(
        outreach_user_id=chosen.outreach_user_id or call.outreach_user_id,
        direction=Direction.OUTBOUND,
        answered=plan.log.outcome is ExternalOutcome.ANSWERED,
        answered_at=plan.log.answered_at,
        completed_at=plan.log.completed_at,
        from_number=call.from_number,
        to_number=call.to_number,
        vendor_call_id=vendor_call_id(call.provider_call_id),
        hold_without_prospect=call.connection.unmatched_prospect == UnmatchedProspect.HOLD,
    )
    return _start(call, connection_id, Purpose.LOG, log)


def _whose_connection(call: Call, events: list[InboxEvent]) -> CallConnection | None:
    """The call's owner in Outreach and the connection its requests go out with; None (and the
    call held, with the reason) when either is not known or not usable."""
    problem = _ownership_problem(call, events)
    if problem:
        _hold(call, problem)
        return None
    try:
        return connection_for_call(
            organization=call.organization,
            owner=call.owner,
            outreach_user_id=call.outreach_user_id or None,
        )
    except ConnectionUnusable as error:
        _hold(call, str(error))
        return None


def _happened(event: InboxEvent) -> Happened:
    return Happened(
        key=str(event.pk),
        kind=Happening(event.happening),
        at=event.occurred_at,
        seq=event.pk,
        link=event.link or None,
        arrived_at=event.received_at,
    )


def _note_late(call: Call, late: list[InboxEvent]) -> None:
    described = ", ".join(f"{event.happening} (#{event.pk})" for event in late)
    attention = (
        f"{described} arrived after Outreach had the final state {call.reported_state}; "
        "Outreach cannot change a final state, so it was not sent."
    )[:500]
    if call.attention != attention:
        call.attention = attention
        logger.warning("call.late_event call=%s events=%s", call.pk, described)


def _apply_verdicts(
    call: Call, events: list[InboxEvent], verdicts: Mapping[str, tuple[Verdict, str]]
) -> None:
    """Write the verdicts that changed, and audit each outcome, in one query each."""
    changed, entries = [], []
    for event in events:
        verdict, reason = verdicts.get(str(event.pk), (InboxStatus.PENDING, ""))
        if (event.status, event.reason) == (verdict, reason[:500]):
            continue
        event.status, event.reason = verdict, reason[:500]
        changed.append(event)
        if verdict != InboxStatus.HELD:  # held is a waiting room, not an outcome
            entries.append(
                audit_entry(
                    action=f"happening.{verdict}",
                    organization=call.organization,
                    target=call,
                    data={"event": event.pk, "happening": event.happening, "reason": reason},
                )
            )
    InboxEvent.objects.bulk_update(changed, ["status", "reason"])
    AuditEntry.objects.bulk_create(entries)


def _ownership_problem(call: Call, events: list[InboxEvent]) -> str:
    """Find the Outreach user behind the provider's agent; a call nobody owns is held, visibly.

    The call belongs to the first agent who answered it (a transferred or conferenced call
    keeps them; later agents show on its events), else to the first agent any event named. A
    call a rep dialled through Callbridge is theirs: Outreach made it for them, so it needs no
    mapping to be updated (their own connection, or the organisation's, carries it)."""
    if call.outreach_user_id or (call.dialled_at and call.owner_id):
        return ""
    answered = [
        event.normalised.get("agent")
        for event in sorted(events, key=lambda event: (event.occurred_at, event.pk))
        if event.happening == Happening.ANSWERED and event.normalised.get("agent")
    ]
    agent = answered[0] if answered else call.agent
    identities = [(kind, value) for kind, value in (agent or {}).items() if value]
    for kind, value in identities:
        mapping = (
            AgentMapping.objects.for_organization(call.organization)
            .filter(kind=kind, value__iexact=value)
            .first()
        )
        if mapping is not None:
            call.outreach_user_id, call.owner = mapping.outreach_user_id, mapping.user
            return ""
    if not identities:
        return "The provider did not say which agent took this call."
    described = ", ".join(f"{kind} {value}" for kind, value in identities)
    return f"Agent ({described}) is not mapped to an Outreach user: add an agent mapping."


def _hold(call: Call, problem: str, *, retry_at: datetime | None = None) -> None:
    """Wait for a person (no `retry_at`), or for something that recovers by itself."""
    if (call.status, call.problem) != (CallStatus.HELD, problem[:500]):
        logger.warning("call.held call=%s problem=%s", call.pk, problem)
        audit_record(
            action="call.held",
            organization=call.organization,
            target=call,
            data={"problem": problem},
        )
    call.status, call.problem, call.due_at = CallStatus.HELD, problem[:500], retry_at
    call.save()


def _done(call: Call, *, note: str = "") -> None:
    """Outreach has everything there is to send; `note` says why that is nothing, if it is."""
    call.status, call.problem, call.due_at = CallStatus.DONE, note[:500], None
    call.save()


def _wait(call: Call, until: datetime) -> None:
    """The final state is settling: look again when it has (one doorbell for that moment,
    however many events arrive meanwhile; the sweeper rings again should it be lost)."""
    ring = call.wake_at != until
    call.status, call.problem, call.due_at, call.wake_at = CallStatus.ACTIVE, "", until, until
    call.save()
    if ring:
        countdown = max(0.0, (until - clock.now()).total_seconds())
        urgent = call_is_urgent(call)
        transaction.on_commit(lambda: enqueue_call(call.pk, urgent=urgent, countdown=countdown))


def _start(
    call: Call,
    connection_id: int,
    purpose: Purpose,
    call_request: CallRequest,
    update: Update | None = None,
) -> Request:
    method, path, body = describe(call_request)
    # Attempt N of this request: the tries of it since the call's last success.
    last_success = (
        call.attempts.filter(outcome=AttemptOutcome.SUCCEEDED).order_by("-id").values("id")[:1]
    )
    previous = call.attempts.filter(
        id__gt=Coalesce(Subquery(last_success), 0), purpose=purpose, method=method, path=path
    ).count()
    attempt = DeliveryAttempt.objects.create(
        organization=call.organization,
        call=call,
        purpose=purpose,
        attempt=previous + 1,
        method=method,
        path=path,
        request_body=body,
        started_at=clock.now(),
    )
    call.lease_until = clock.now() + LEASE
    call.status = CallStatus.ACTIVE
    call.save()
    return Request(
        purpose=purpose,
        attempt_id=attempt.pk,
        call_request=call_request,
        connection_id=connection_id,
        update=update,
    )


def _reconcile_request(call: Call) -> CallRequest:
    if not call.outreach_call_id:  # a create whose answer was lost: find it by vendorCallId
        return FindCall(vendor_call_id(call.provider_call_id))
    return ReadCall(call.outreach_call_id)


# Step 3: record ------------------------------------------------------------------------------


def _record_success(call_id: int, request: Request, result: CallResult) -> None:
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=call_id)
        )
        now = clock.now()
        _write_attempts(call, request, result.attempts, AttemptOutcome.SUCCEEDED)
        if isinstance(result, CallUpdated):
            _reported_from_update(call, request.update, now)
        elif isinstance(result, CallCreated):
            call.outreach_call_id, call.prospect_id = result.call_id, result.prospect_id or ""
        elif isinstance(result, CallLogged):
            call.outreach_call_id, call.prospect_id = result.call_id, result.prospect_id or ""
            _logged(call, now, result)
        elif isinstance(result, CallNotLogged):
            call.lease_until, call.failures = None, 0
            _hold(call, result.reason)
            return
        elif isinstance(result, CallSearch):  # a lost create, looked for by its vendorCallId
            if result.call_id is None and result.others:
                call.lease_until, call.failures = None, 0
                _hold(
                    call,
                    f"Outreach's answer to our create was lost, and looking for the call by "
                    f"vendorCallId {vendor_call_id(call.provider_call_id)} returned "
                    f"{result.others} other call(s) but not ours, so we cannot tell whether it "
                    "was created. Check Outreach for that call before replaying.",
                )
                return
            call.outreach_call_id = result.call_id or ""  # none: never created, create it now
            call.needs_reconcile = False
            if result.call_id and call.direction == Direction.OUTBOUND:
                _logged(call, now, None)  # a logged call whose answer was lost: found, not twice
        else:
            _reported_from_outreach(call, result, now)
            call.needs_reconcile = False
        audit_record(
            action=f"delivery.{request.purpose}",
            organization=call.organization,
            target=call,
            data={"attempt": request.attempt_id},
        )
        call.lease_until, call.due_at, call.problem, call.failures = None, now, "", 0
        call.save()


def _logged(call: Call, now: datetime, result: CallLogged | None) -> None:
    """Outreach has the logged call: it counts as having the final state the call ended in,
    so the rules send nothing more and name late happenings. The timeline says what was sent
    (the attempts) and why (this entry)."""
    call.logged_at = now
    call.reported_state = call.final_state
    call.reported_state_changed_at = call.ended_at
    call.final_reported_at = now
    why = [f"the call did not start in Outreach and ended {call.final_state}"]
    if result is not None:
        why.append(f"outcome {result.outcome}")
        why += result.notes
    else:
        why.append("found by its vendorCallId after the answer to logging it was lost")
    audit_record(
        action="call.logged",
        organization=call.organization,
        target=call,
        data={
            "outreach_call_id": call.outreach_call_id,
            "outcome": result.outcome if result else None,
            "prospect": call.prospect_id or None,
            "task": result.task_id if result else None,
            "why": why,
        },
    )


def _record_failure(
    call_id: int, request: Request | None, error: OutreachError, *, after_send: bool = False
) -> None:
    """`after_send`: the request was answered, but recording the answer failed."""
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=call_id)
        )
        now = clock.now()
        answered = error.attempt is not None and error.attempt.status is not None
        lost = after_send or (error.attempts and not answered)
        if isinstance(error, OutreachRateLimited) and not error.attempts:
            outcome = AttemptOutcome.NOT_SENT  # our shared budget said wait: nothing was sent
        elif error.permanent:
            outcome = AttemptOutcome.PERMANENT
        elif lost and request is not None and request.purpose != Purpose.RECONCILE:
            # Sent, but no answer came back: Outreach may have applied it. Ask before resending.
            outcome = AttemptOutcome.UNKNOWN
            call.needs_reconcile = True
        else:
            outcome = AttemptOutcome.TRANSIENT
        if request is not None:
            _write_attempts(call, request, error.attempts, outcome, error=error)
        else:  # it failed before a request was chosen: the timeline still shows why
            audit_record(
                action="call.error",
                organization=call.organization,
                target=call,
                data={"error": str(error)[:500]},
            )
        call.lease_until = None
        if isinstance(error, ConnectionUnusable):
            _hold(call, str(error))
            return
        if error.permanent and request is not None and _window_refusal(call, request):
            # Outreach counts its hour from an instant we cannot know: this refusal closes the
            # window for links, which the rules then mark expired.
            call.links_closed, call.due_at = True, now
            call.save()
            transaction.on_commit(lambda: enqueue_call(call_id, urgent=call_is_urgent(call)))
            return
        if error.permanent:
            call.status, call.due_at = CallStatus.FAILED, None
            call.problem = _refusal_problem(call, request, error)
            logger.warning(
                "call.refused call=%s purpose=%s error_id=%s detail=%s",
                call_id,
                _purpose(request),
                error.error_id,
                error.detail,
            )
            audit_record(
                action="delivery.refused",
                organization=call.organization,
                target=call,
                data={
                    "attempt": request.attempt_id if request else None,
                    "error_id": error.error_id,
                    "detail": error.detail,
                },
            )
            call.save()
            return
        if outcome != AttemptOutcome.NOT_SENT:
            call.failures += 1
        delay = _backoff(call.failures)
        if error.retry_after:
            delay = max(delay, error.retry_after)
        if outcome == AttemptOutcome.UNKNOWN:
            delay = max(delay, RECONCILE_DELAY_SECONDS)
        retry_at = now + timedelta(seconds=delay)
        deadline = retry_deadline(call)
        if retry_at > deadline:
            call.status, call.due_at = CallStatus.FAILED, None
            call.problem = f"Gave up retrying at {deadline:%Y-%m-%d %H:%M} UTC: {error}"[:500]
            call.attention = call.problem
            logger.warning("call.gave_up call=%s error=%s", call_id, error)
            audit_record(
                action="call.gave_up",
                organization=call.organization,
                target=call,
                data={"error": str(error)[:500], "failures": call.failures},
            )
            call.save()
            return
        if isinstance(error, TokenEndpointFailing):
            _hold(
                call,
                f"Waiting for Outreach's token endpoint, retrying at {retry_at:%H:%M:%S}: {error}",
                retry_at=retry_at,
            )
        else:
            call.due_at = retry_at
            call.problem = f"Retrying in {delay:.0f} s: {error}"[:500]
            call.save()
        urgent = call_is_urgent(call)
        transaction.on_commit(lambda: enqueue_call(call_id, urgent=urgent, countdown=delay))


def retry_deadline(call: Call) -> datetime:
    """An hour after the call's give-up deadline, delivery stops retrying."""
    last = call.last_event_at or call.created
    return last + timedelta(hours=call.organization.give_up_hours) + LINK_WINDOW


def _window_refusal(call: Call, request: Request) -> bool:
    """A refused update carrying only links, on a call whose final state Outreach has, at a
    time when Outreach's stricter reading of its 1-hour window (from the call's end) applies."""
    update = request.update
    return (
        request.purpose == Purpose.UPDATE
        and update is not None
        and update.state is None
        and is_final(call.reported().state)
        and call.reported_state_changed_at is not None
        and clock.now() > call.reported_state_changed_at + LINK_WINDOW
    )


def _refusal_problem(call: Call, request: Request | None, error: OutreachError) -> str:
    if error.status == 404 and request is not None and request.purpose == Purpose.UPDATE:
        # Outreach answers 404 for a call of another Outreach org as for one that never was: a
        # dial whose call id belongs to another organisation's Outreach org ends here.
        return (
            f"Outreach does not know call {call.outreach_call_id} in this organisation's "
            f"Outreach org (404: {error.detail or error}); it may belong to another Outreach org."
        )[:500]
    return f"Outreach refused {_purpose(request)}: {error.detail or error}"[:500]


def _purpose(request: Request | None) -> str:
    return str(request.purpose) if request is not None else "the call"


def _backoff(failures: int) -> float:
    """Exponential in the failures since the last success, with jitter so that many calls failing
    together do not retry together."""
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, failures - 1))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def _write_attempts(
    call: Call,
    request: Request,
    attempts: list[Attempt],
    outcome: AttemptOutcome,
    *,
    error: OutreachError | None = None,
) -> None:
    """The claimed row gets the main request's (last) attempt; any others get rows of their own
    (a prospect lookup before a create, a 401 answered before a refresh and retry)."""
    main = DeliveryAttempt.objects.filter(pk=request.attempt_id)
    if len(attempts) > 1:
        number = main.values_list("attempt", flat=True).get()
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                organization=call.organization,
                call=call,
                purpose=request.purpose,
                attempt=number,
                **_attempt_fields(extra),
                outcome=AttemptOutcome.SUCCEEDED
                if (extra.status or 500) < 400
                else AttemptOutcome.TRANSIENT,
            )
            for extra in attempts[:-1]
        )
    fields = _attempt_fields(attempts[-1]) if attempts else {}
    fields["outcome"] = outcome
    if error is not None:
        fields["error"] = str(error)[:500]
        fields["outreach_error_id"] = (error.error_id or "")[:100]
    main.update(**fields)


def _attempt_fields(attempt: Attempt) -> dict[str, Any]:
    body = attempt.response_body
    return {
        "method": attempt.method,
        "path": attempt.path[:300],
        "request_body": attempt.request_body,
        "status_code": attempt.status,
        "response_body": body if isinstance(body, str) else _json(body),
        "outreach_error_id": (attempt.error_id or "")[:100],
        "started_at": attempt.started_at,
        "duration_ms": int(attempt.duration * 1000),
    }


def _json(value: Any) -> str:
    return json.dumps(value, default=str)[:20000]


def _reported_from_update(call: Call, update: Update | None, now: datetime) -> None:
    if update is None:
        return
    if update.state is not None:
        call.reported_state = str(update.state)
        call.reported_state_changed_at = update.state_changed_at
        if is_final(update.state):
            call.final_reported_at = now
    if update.recording_url:
        call.reported_recording_url = update.recording_url
    if update.voicemail_url:
        call.reported_voicemail_url = update.voicemail_url


def _reported_from_outreach(call: Call, result: CallAsOutreachHasIt, now: datetime) -> None:
    """After an answer was lost, believe Outreach: take what it has as what was reported."""
    state = result.state if result.state in set(OutreachState) else None
    call.reported_state = state or ""
    call.reported_state_changed_at = result.state_changed_at
    call.reported_recording_url = result.recording_url or ""
    call.reported_voicemail_url = result.voicemail_url or ""
    if is_final(OutreachState(state) if state else None):
        call.final_reported_at = call.final_reported_at or now
