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
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from calls.models import (
    AgentMapping,
    AttemptOutcome,
    Call,
    CallStatus,
    DeliveryAttempt,
    InboxEvent,
    InboxStatus,
)
from calls.rules import Direction, Happened, Happening, OutreachState, Update, plan_next_update
from integrations.outreach.client import (
    OutreachClient,
    create_call_document,
    update_call_document,
)
from integrations.outreach.errors import (
    Attempt,
    ConnectionUnusable,
    OutreachError,
    OutreachResponse,
)
from integrations.outreach.models import OutreachConnection
from integrations.outreach.selectors import connection_for_call
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
VENDOR_CALL_ID_MAX = 63  # Outreach's vendorCallId column


@dataclass(frozen=True)
class Request:
    """One request to make, decided under the row lock and made without it."""

    purpose: str  # create, update, reconcile
    attempt_id: int
    send: Callable[[OutreachClient], Any]
    connection_id: int
    update: Update | None = None


def call_advance(*, call_id: int) -> None:
    # One client per connection for the whole run: its HTTP connection to Outreach is kept alive
    # from one request to the next instead of a new TCP (and TLS) handshake for each.
    clients: dict[int, OutreachClient] = {}
    try:
        for _ in range(MAX_STEPS_PER_RUN):
            request = _claim(call_id)
            if request is None:
                return
            if request.connection_id not in clients:
                connection = OutreachConnection.objects.get(pk=request.connection_id)
                clients[request.connection_id] = OutreachClient(connection=connection)
            try:
                result: Any = request.send(clients[request.connection_id])
            except OutreachError as error:
                _record_failure(call_id, request, error)
                return
            _record_success(call_id, request, result)
    finally:
        for client in clients.values():
            client.close()


def vendor_call_id(call: Call) -> str:
    """The provider's call id as Outreach's vendorCallId: it must fit in 63 characters, and it
    must be stable, because it is how a lost create is found again."""
    if len(call.provider_call_id) <= VENDOR_CALL_ID_MAX:
        return call.provider_call_id
    return "sha256:" + hashlib.sha256(call.provider_call_id.encode()).hexdigest()[:56]


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
        call.lease_until = None
        for lost in call.attempts.filter(outcome=AttemptOutcome.IN_FLIGHT):
            lost.outcome = AttemptOutcome.UNKNOWN
            lost.error = "The worker stopped before Outreach's answer was recorded."
            lost.save(update_fields=["outcome", "error"])
            call.needs_reconcile = True
        events = list(call.events.all())
        plan = plan_next_update(
            direction=Direction(call.direction),
            happenings=[_happened(event) for event in events],
            reported=call.reported(),
            now=now,
        )
        _apply_verdicts(call, events, plan.verdicts)
        call.final_state = str(plan.final_state or "")
        call.ended_at = plan.ended_at
        needs_create = call.direction == Direction.INBOUND and not call.outreach_call_id
        if plan.update is None and not call.needs_reconcile and not needs_create:
            return _done(call)  # Outreach is up to date: no need to know whose token it takes

        problem = _ownership_problem(call)
        if problem:
            return _hold(call, problem)
        try:
            chosen = connection_for_call(
                organization=call.organization,
                owner=call.owner,
                outreach_user_id=call.outreach_user_id or None,
            )
        except ConnectionUnusable as error:
            return _hold(call, str(error))

        if call.needs_reconcile:
            return _start(call, chosen.connection.pk, "reconcile", *_reconcile_request(call))
        if needs_create:
            return _start(call, chosen.connection.pk, "create", *_create_request(call, chosen))
        if plan.update is None:
            return _done(call)
        if not call.outreach_call_id:
            return _hold(
                call,
                "Outbound call without an Outreach call id: the dial that "
                "started it did not say which Outreach call it is.",
            )
        return _start(call, chosen.connection.pk, "update", *_update_request(call, plan.update))


def _happened(event: InboxEvent) -> Happened:
    return Happened(
        key=str(event.pk),
        kind=Happening(event.happening),
        at=event.occurred_at,
        seq=event.pk,
        link=event.link or None,
    )


def _apply_verdicts(call: Call, events: list[InboxEvent], verdicts: dict) -> None:
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


def _ownership_problem(call: Call) -> str:
    """Find the Outreach user behind the provider's agent; a call nobody owns is held, visibly."""
    if call.outreach_user_id:
        return ""
    identities = [(kind, value) for kind, value in (call.agent or {}).items() if value]
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


def _hold(call: Call, problem: str) -> None:
    if (call.status, call.problem) != (CallStatus.HELD, problem[:500]):
        audit_record(
            action="call.held",
            organization=call.organization,
            target=call,
            data={"problem": problem},
        )
    call.status, call.problem, call.due_at = CallStatus.HELD, problem[:500], None
    call.save()
    return None


def _done(call: Call) -> None:
    call.status, call.problem, call.due_at = CallStatus.DONE, "", None
    call.save()
    return None


def _start(
    call: Call,
    connection_id: int,
    purpose: str,
    method: str,
    path: str,
    body: Any,
    send: Callable[[OutreachClient], Any],
    update: Update | None = None,
) -> Request:
    # Attempt N of this request: the tries of it since the call's last success.
    previous = _since_last_success(call).filter(purpose=purpose, method=method, path=path).count()
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
        send=send,
        connection_id=connection_id,
        update=update,
    )


def _update_request(call: Call, update: Update) -> tuple:
    attributes = update.as_attributes()
    outreach_id = call.outreach_call_id
    return (
        "PATCH",
        f"/calls/{outreach_id}",
        update_call_document(outreach_id, attributes=attributes),
        lambda client: client.update_call(outreach_id, attributes=attributes),
        update,
    )


def _create_request(call: Call, chosen: Any) -> tuple:
    vendor_id, caller, callee = vendor_call_id(call), call.from_number, call.to_number
    owner = chosen.outreach_user_id or call.outreach_user_id

    def send(client: OutreachClient) -> Any:
        prospect_id, lookup = client.find_prospect_by_number(caller) if caller else (None, None)
        created = client.create_call(
            outreach_user_id=owner,
            from_number=caller,
            to_number=callee,
            vendor_call_id=vendor_id,
            prospect_id=prospect_id,
        )
        return created, prospect_id, lookup

    # Recorded before sending; the prospect, looked up on the way, is in what is recorded after.
    body = create_call_document(
        outreach_user_id=owner, from_number=caller, to_number=callee, vendor_call_id=vendor_id
    )
    return "POST", "/calls", body, send


def _reconcile_request(call: Call) -> tuple:
    if not call.outreach_call_id:  # a create whose answer was lost: find it by vendorCallId
        vendor_id = vendor_call_id(call)
        return (
            "GET",
            f"/calls?filter[vendorCallId]={vendor_id}",
            None,
            lambda client: client.find_call_by_vendor_call_id(vendor_id),
        )
    outreach_id = call.outreach_call_id
    return ("GET", f"/calls/{outreach_id}", None, lambda client: client.get_call(outreach_id))


# Step 3: record ------------------------------------------------------------------------------


def _record_success(call_id: int, request: Request, result: Any) -> None:
    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=call_id)
        )
        now = clock.now()
        if request.purpose == "update":
            _write_attempts(call, request, result.attempts, AttemptOutcome.SUCCEEDED)
            _reported_from_update(call, request.update)
        elif request.purpose == "create":
            created, prospect_id, lookup = result
            _write_attempts(
                call,
                request,
                created.response.attempts,
                AttemptOutcome.SUCCEEDED,
                before=lookup.attempts if lookup else [],
            )
            call.outreach_call_id, call.prospect_id = created.call_id, prospect_id or ""
        else:
            _write_attempts(call, request, _attempts_of(result), AttemptOutcome.SUCCEEDED)
            _reported_from_outreach(call, result)
            call.needs_reconcile = False
        audit_record(
            action=f"delivery.{request.purpose}",
            organization=call.organization,
            target=call,
            data={"attempt": request.attempt_id},
        )
        call.lease_until, call.due_at, call.problem = None, now, ""
        call.save()


def _record_failure(call_id: int, request: Request, error: OutreachError) -> None:
    from calls.tasks import enqueue_call

    with transaction.atomic():
        call = (
            Call.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=call_id)
        )
        now = clock.now()
        answered = error.attempt is not None and error.attempt.status is not None
        if error.permanent:
            outcome = AttemptOutcome.PERMANENT
        elif not answered and error.attempts and request.purpose != "reconcile":
            # Sent, but no answer came back: Outreach may have applied it. Ask before resending.
            outcome = AttemptOutcome.UNKNOWN
            call.needs_reconcile = True
        else:
            outcome = AttemptOutcome.TRANSIENT
        _write_attempts(call, request, error.attempts, outcome, error=error)
        call.lease_until = None
        if isinstance(error, ConnectionUnusable):
            _hold(call, str(error))
            return
        if error.permanent:
            call.status, call.due_at = CallStatus.FAILED, None
            call.problem = f"Outreach refused {request.purpose}: {error.detail or error}"[:500]
            audit_record(
                action="delivery.refused",
                organization=call.organization,
                target=call,
                data={
                    "attempt": request.attempt_id,
                    "error_id": error.error_id,
                    "detail": error.detail,
                },
            )
            call.save()
            return
        delay = _backoff(call)
        if error.retry_after:
            delay = max(delay, error.retry_after)
        if outcome == AttemptOutcome.UNKNOWN:
            delay = max(delay, RECONCILE_DELAY_SECONDS)
        call.due_at = now + timedelta(seconds=delay)
        call.problem = f"Retrying in {delay:.0f} s: {error}"[:500]
        call.save()
        transaction.on_commit(lambda: enqueue_call(call_id, countdown=delay))


def _backoff(call: Call) -> float:
    """Exponential in the failures since the last success, with jitter so that many calls failing
    together do not retry together."""
    failures = _since_last_success(call).filter(outcome=AttemptOutcome.TRANSIENT).count()
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, failures - 1))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def _since_last_success(call: Call) -> QuerySet[DeliveryAttempt]:
    last_success = call.attempts.filter(outcome=AttemptOutcome.SUCCEEDED).order_by("-id").first()
    return call.attempts.filter(id__gt=last_success.pk if last_success else 0)


def _attempts_of(result: Any) -> list[Attempt]:
    response = result[1] if isinstance(result, tuple) else result
    return response.attempts if isinstance(response, OutreachResponse) else []


def _write_attempts(
    call: Call,
    request: Request,
    attempts: list[Attempt],
    outcome: AttemptOutcome,
    *,
    before: Sequence[Attempt] = (),
    error: OutreachError | None = None,
) -> None:
    """The claimed row gets the main request's (last) attempt; any others get rows of their own
    (a prospect lookup before a create, a 401 answered before a refresh and retry)."""
    main = DeliveryAttempt.objects.get(pk=request.attempt_id)
    for extra in [*before, *attempts[:-1]]:
        DeliveryAttempt.objects.create(
            organization=call.organization,
            call=call,
            purpose=request.purpose,
            attempt=main.attempt,
            **_attempt_fields(extra),
            outcome=AttemptOutcome.SUCCEEDED
            if (extra.status or 500) < 400
            else AttemptOutcome.TRANSIENT,
        )
    if attempts:
        for name, value in _attempt_fields(attempts[-1]).items():
            setattr(main, name, value)
    main.outcome = outcome
    if error is not None:
        main.error = str(error)[:500]
        main.outreach_error_id = (error.error_id or "")[:100]
    main.save()


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


def _reported_from_update(call: Call, update: Update | None) -> None:
    if update is None:
        return
    if update.state is not None:
        call.reported_state = str(update.state)
        call.reported_state_changed_at = update.state_changed_at
    if update.recording_url:
        call.reported_recording_url = update.recording_url
    if update.voicemail_url:
        call.reported_voicemail_url = update.voicemail_url


def _reported_from_outreach(call: Call, result: Any) -> None:
    """After an answer was lost, believe Outreach: take what it has as what was reported."""
    if isinstance(result, tuple):  # a lost create: (call id or None, response)
        found_id, _ = result
        if found_id:
            call.outreach_call_id = found_id
        return
    attributes = (result.data or {}).get("attributes") or {}
    state = attributes.get("state") or ""
    call.reported_state = state if state in set(OutreachState) else ""
    changed = attributes.get("stateChangedAt")
    call.reported_state_changed_at = parse_datetime(changed) if changed else None
    call.reported_recording_url = attributes.get("recordingUrl") or ""
    call.reported_voicemail_url = attributes.get("voicemailRecordingUrl") or ""
