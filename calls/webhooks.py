"""The one door providers' webhooks come through: `POST /hooks/<kind>/<connection token>/`.

It names no provider: the registry finds the provider class for `<kind>`, whose declarations say
which content types it sends and what answer it expects, and whose `verify` and `parse` decide
the rest. Answered 2xx only after the events are committed to the inbox. Every refusal is a JSON
reason and a `WebhookReceipt` support staff can read; nothing else changes. If the database is
away the answer is 503, so the provider tries again rather than believing we have its events.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from calls.inbox import inbox_accept
from integrations.models import ProviderConnection, WebhookReceipt
from integrations.provider import WebhookRejected
from integrations.registry import is_known, provider_for

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 5


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
        accepted = inbox_accept(connection=connection, events=provider.parse(request, connection))
    except WebhookRejected as rejection:
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
    return provider.accepted_answer(stored=accepted.stored, duplicates=accepted.duplicates)


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


def _record_refusal(
    request: HttpRequest,
    *,
    kind: str,
    connection: ProviderConnection | None,
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
        excerpt = request.body[:2000].decode(errors="replace") if small else ""
    except Exception:  # an unreadable body is itself worth recording, without its content
        excerpt = ""
    try:
        WebhookReceipt.objects.create(
            connection=connection,
            organization_id=connection.organization_id if connection else None,
            provider=kind[:30],
            status=rejection.status,
            reason=rejection.reason[:500],
            remote_addr=request.META.get("REMOTE_ADDR") or None,
            content_type=(request.content_type or "")[:200],
            body_excerpt=excerpt,
        )
    except DatabaseError:
        logger.exception("could not record a refused webhook")
