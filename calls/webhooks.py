"""The one door providers' webhooks come through: `POST /hooks/<kind>/<connection token>/`.

It names no provider: the registry finds the provider class for `<kind>`, whose declarations say
which content types it sends and what answer it expects, and whose `verify` and `parse` decide
the rest. Answered 2xx only after the events are committed to the inbox. If the database is away
the answer is 503, so the provider tries again rather than believing we have its events.

Every refusal is a JSON reason naming what is wrong. A request that matched a connection leaves
a `WebhookReceipt` its organisation's support staff can read; one that matched nothing (an
unknown provider, token or method) is only counted per day for platform staff. An address
whose requests keep being refused is answered 429 without even that, for a minute: refusals must
cost an attacker more than us. A correctly signed request is never limited: the limit applies to
refusals only, and most providers retry only on connection failures, so a 429 or 503 to a real
event would be a lost event. A signed webhook refused for a call we know is also noted on that
call (its timeline and *Needs attention*).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import timedelta

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from calls.inbox import inbox_accept
from calls.models import Call
from integrations.events import CallEvent
from integrations.models import ProviderConnection, WebhookReceipt, WebhookRefusalTally
from integrations.provider import WebhookRejected
from integrations.registry import is_known, provider_for
from portal import clock
from portal.audit.services import audit_record

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 5
# How much of a refused body is kept for support staff: a whole real payload (the Finesse
# connector's is about 7 KB), not a fragment that cuts off the field the refusal names.
KEPT_BODY_CHARS = 16_000
# The events' times we accept: a provider's retries reach back days, not months; a time ahead
# of ours by more than clock drift is a bug somewhere.
OLDEST_EVENT = timedelta(days=7)
NEWEST_EVENT = timedelta(hours=1)
# Outreach's call ids: integers through its API, UUIDs from the dial launch. It becomes part of
# a request path, so nothing else may pass.
OUTREACH_CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


@csrf_exempt
def receive_webhook(request: HttpRequest, kind: str, token: str) -> HttpResponse:
    connection = None
    try:
        if not is_known(kind):
            raise WebhookRejected(f"Unknown provider '{kind}'.", status=404)
        if request.method != "POST":
            raise WebhookRejected("Webhooks are POSTed.", status=405)
        connection = (
            ProviderConnection.objects.select_related("organization")
            .filter(kind=kind, webhook_token=token, is_active=True)
            .first()
        )
        if connection is None:
            raise WebhookRejected("Unknown or disabled connection token.", status=404)
        provider = provider_for(kind)
        _check_body(request, content_types=provider.content_types)
        provider.verify(request, connection)
        events = provider.parse(request, connection)
        _check_events(events)
        accepted = inbox_accept(
            connection=connection, events=events, headers=shown_headers(request)
        )
    except WebhookRejected as rejection:
        if _refusing_too_often(request):
            _tally("rate_limited")
            response = JsonResponse(
                {"error": "Too many refused requests from this address; slow down."}, status=429
            )
            response["Retry-After"] = "60"
            return response
        if connection is None:
            _tally(_UNMATCHED.get(rejection.status, "unmatched"))
        else:
            _record_refusal(request, kind=kind, connection=connection, rejection=rejection)
        return JsonResponse({"error": rejection.reason}, status=rejection.status)
    except DatabaseError:
        logger.exception("webhook for %s refused: database unavailable", kind)
        response = JsonResponse(
            {"error": "Temporarily unavailable; nothing was stored. Please retry."}, status=503
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    logger.info(
        "webhook accepted provider=%s connection=%s stored=%s duplicates=%s",
        kind,
        connection.pk,
        accepted.stored,
        accepted.duplicates,
    )
    return provider.accepted_answer(request, stored=accepted.stored, duplicates=accepted.duplicates)


# Headers whose value signs or authorises a request: never stored, never shown.
_SECRET_HEADER = re.compile(r"signature|authorization|auth|token|secret|key|cookie", re.IGNORECASE)


def shown_headers(request: HttpRequest) -> dict[str, str]:
    """The request's headers as support staff may read them on the call's timeline."""
    return {
        name: value[:500]
        for name, value in request.headers.items()
        if not _SECRET_HEADER.search(name)
    }


def _check_body(request: HttpRequest, *, content_types: tuple[str, ...]) -> None:
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise WebhookRejected("Content-Length is not a number.") from None
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        raise WebhookRejected(f"Body over {MAX_BODY_BYTES} bytes.", status=413)
    content_type = request.content_type or ""
    if content_type not in content_types:
        raise WebhookRejected(
            f"Content-Type must be {' or '.join(content_types)}, not '{content_type or 'none'}'.",
            status=415,
        )


def _check_events(events: Sequence[CallEvent]) -> None:
    """What every provider's events must satisfy before they are stored, whoever parsed them."""
    now = clock.now()
    for index, event in enumerate(events, start=1):
        where = f"event {index} of {len(events)} (call {event.provider_call_id[:60]})"
        try:
            in_range = now - OLDEST_EVENT <= event.occurred_at <= now + NEWEST_EVENT
        except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 has no UTC equivalent
            in_range = False
        if not in_range:
            raise WebhookRejected(
                f"{where}: occurred_at {event.occurred_at.isoformat()} is outside the accepted "
                "range (up to 7 days ago, at most 1 hour ahead).",
                status=422,
            )
        if event.outreach_call_id and not OUTREACH_CALL_ID.fullmatch(event.outreach_call_id):
            raise WebhookRejected(
                f"{where}: outreach_call_id must be 1 to 64 letters, digits or hyphens "
                "(Outreach's call ids are integers or UUIDs).",
                status=422,
            )


# What a refusal that matched no connection is counted as.
_UNMATCHED = {404: "unknown_provider_or_token", 405: "wrong_method"}


def _refusing_too_often(request: HttpRequest) -> bool:
    """Count this refusal against its address (in the shared cache, per minute); True once the
    address is over WEBHOOK_REFUSALS_PER_MINUTE."""
    try:
        address = get_adapter().get_client_ip(request)
    except Exception:  # no address to hold to account: never refuse more on a guess
        return False
    key = f"webhook-refusals:{address}:{int(clock.now().timestamp() // 60)}"
    try:
        if cache.add(key, 1, timeout=120):
            return False
        return cache.incr(key) > settings.WEBHOOK_REFUSALS_PER_MINUTE
    except Exception:  # the cache is away: answer as usual rather than fail the request
        logger.warning("webhook refusal limit unavailable", exc_info=True)
        return False


def _tally(reason: str) -> None:
    """One more refusal of this kind today, in one upsert; never a row per request."""
    day = clock.now().date()
    try:
        with transaction.atomic():
            updated = WebhookRefusalTally.objects.filter(day=day, reason=reason).update(
                count=F("count") + 1
            )
            if not updated:
                with transaction.atomic():
                    WebhookRefusalTally.objects.create(day=day, reason=reason, count=1)
    except IntegrityError:  # another request created today's row a moment ago
        WebhookRefusalTally.objects.filter(day=day, reason=reason).update(count=F("count") + 1)
    except DatabaseError:
        logger.exception("could not count a refused webhook")


def _record_refusal(
    request: HttpRequest,
    *,
    kind: str,
    connection: ProviderConnection,
    rejection: WebhookRejected,
) -> None:
    logger.warning(
        "webhook refused provider=%s status=%s reason=%s",
        kind,
        rejection.status,
        rejection.reason,
    )
    try:
        declared = int(request.headers.get("Content-Length") or 0)
        small = declared <= MAX_BODY_BYTES and rejection.status != 413
        # Secrets a provider's payload carries are removed before anything is kept.
        excerpt = provider_for(kind).kept_body(request.body)[:KEPT_BODY_CHARS] if small else ""
    except Exception:  # an unreadable body is itself worth recording, without its content
        excerpt = ""
    try:
        WebhookReceipt.objects.create(
            connection=connection,
            organization_id=connection.organization_id,
            provider=kind[:30],
            status=rejection.status,
            reason=rejection.reason[:500],
            remote_addr=request.META.get("REMOTE_ADDR") or None,
            content_type=(request.content_type or "")[:200],
            body_excerpt=excerpt,
        )
        if connection is not None and rejection.provider_call_id:
            _note_refusal_on_call(connection, rejection, excerpt=excerpt)
    except DatabaseError:
        logger.exception("could not record a refused webhook")


def _note_refusal_on_call(
    connection: ProviderConnection, rejection: WebhookRejected, *, excerpt: str
) -> None:
    """A signed webhook about a call we know, which we could not read: the call may now miss
    what it said, so its timeline shows the refusal and the call is listed for a person."""
    call = Call.objects.filter(
        connection=connection, provider_call_id=rejection.provider_call_id
    ).first()
    if call is None:
        return
    note = f"A webhook about this call was refused ({rejection.status}): {rejection.reason}"
    Call.objects.filter(pk=call.pk).update(attention=note[:500])
    audit_record(
        action="call.webhook_refused",
        organization=connection.organization,
        target=call,
        data={"status": rejection.status, "reason": rejection.reason, "body": excerpt},
    )
