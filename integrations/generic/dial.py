"""The generic provider placing a call: a JSON dial request POSTed to the phone system's dial
URL, signed as our webhooks are verified (Standard Webhooks), with every secret the connection
accepts, so a phone system that has not switched to a rotated secret yet still verifies it.

`webhook-id` is `dial_<Outreach call id>`: the same for every try of one dial, so the phone
system can tell a retry from a new call. Its answers (README "The generic provider places
calls"): 2xx `{"call_id"}` placed; 4xx `{"error"}` refused for good (shown to the rep); 408,
429 and 5xx refused for now (the core tries again within the dial's deadline); no answer before
the deadline: unconfirmed, never sent again, because the phone system may be dialling.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from integrations.provider import PlaceCallOutcome, PlaceCallRequest, Placed, Refused, Unconfirmed
from portal import clock

TRANSIENT_4XX = frozenset({408, 429})
REASON_MAX = 200


def place_generic_call(
    request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
) -> PlaceCallOutcome:
    connection = request.connection
    url = connection.setup_values().get("dial_url", "")
    if not url:
        return Refused(
            f"“{connection.name}” has no dial URL: an admin gives your phone system's dial URL "
            "on the Telephony page.",
            permanent=True,
        )
    if urlsplit(url).scheme not in ("http", "https"):
        return Refused(f"The dial URL of “{connection.name}” is not http(s).", permanent=True)
    secrets = connection.signing_secrets()
    if not secrets:
        return Refused(f"“{connection.name}” has no signing secret.", permanent=True)
    seconds = (deadline - clock.now()).total_seconds()
    if seconds <= 0:
        return Refused("There was no time left to ask your phone system.", permanent=False)
    body = dial_request_body(request, deadline=deadline)
    try:
        response = httpx.post(
            url,
            content=body.encode(),
            headers=signed_headers(secrets, message_id=f"dial_{idempotency_key}", body=body),
            timeout=seconds,
        )
    except (httpx.ConnectError, httpx.ConnectTimeout):
        # The request never left: asking again cannot dial twice.
        return Refused("Callbridge could not reach your phone system's dial URL.", permanent=False)
    except httpx.TimeoutException:
        return Unconfirmed(
            f"Your phone system did not answer the dial request within {seconds:.1f} s."
        )
    except httpx.TransportError as error:
        return Unconfirmed(
            "The connection to your phone system broke before it answered "
            f"({type(error).__name__})."
        )
    return _outcome(response)


def dial_request_body(request: PlaceCallRequest, *, deadline: datetime) -> str:
    return json.dumps(
        {
            "type": "dial",
            "outreach_call_id": request.outreach_call_id,
            "to": request.to_number,
            "extension": request.extension,
            "agent": request.agent,
            "deadline": deadline.isoformat(),
        },
        separators=(",", ":"),
    )


def signed_headers(secrets: list[str], *, message_id: str, body: str) -> dict[str, str]:
    # The wall clock, not portal.clock: the phone system checks the timestamp against its own.
    now = timezone.now()
    return {
        "Content-Type": "application/json",
        "User-Agent": "Callbridge",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, now, body) for s in secrets),
    }


def _outcome(response: httpx.Response) -> PlaceCallOutcome:
    status = response.status_code
    answer = _json(response)
    if 200 <= status < 300:
        # Lenient: the phone system said yes, so the call is on its way even when the answer
        # lacks its id; its events carry the Outreach call id anyway.
        call_id = answer.get("call_id")
        return Placed(provider_call_id=str(call_id)[:200] if call_id else "")
    error = _reason(answer.get("error")) or f"HTTP {status}"
    if status in TRANSIENT_4XX or status >= 500:
        return Refused(f"Your phone system is unavailable for now ({error}).", permanent=False)
    if 300 <= status < 400:
        return Refused(
            f"Your phone system's dial URL answered a redirect (HTTP {status}): an admin sets "
            "the final address on the Telephony page.",
            permanent=True,
        )
    return Refused(f"Your phone system refused the call: {error}", permanent=True)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _reason(value: Any) -> str:
    """The phone system's words, shown to the rep: printable and short."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in value).strip()
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"
