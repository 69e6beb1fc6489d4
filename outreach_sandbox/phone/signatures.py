"""Standard Webhooks signatures (https://www.standardwebhooks.com/), written from the
specification with the standard library: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
keyed with the base64 part of a `whsec_` secret; several signatures, space-separated."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

TOLERANCE_SECONDS = 5 * 60


class SignatureRejected(Exception):
    pass


def sign(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(secrets: list[str], headers: dict[str, str], body: bytes) -> None:
    """Raise SignatureRejected unless one signature matches one of `secrets`."""
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    if not (message_id and timestamp and given):
        raise SignatureRejected("missing webhook-id, webhook-timestamp or webhook-signature")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureRejected("webhook-timestamp is not within 5 minutes of now")
    if not secrets:
        raise SignatureRejected("no signing secret is set up: paste it on the phone's page")
    expected = {
        sign(s, message_id=message_id, timestamp=int(timestamp), body=body) for s in secrets
    }
    if not any(hmac.compare_digest(candidate, e) for candidate in given.split() for e in expected):
        raise SignatureRejected("no signature matches the signing secret")
