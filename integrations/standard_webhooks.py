"""Standard Webhooks (https://www.standardwebhooks.com/): the signature scheme and secret policy
of every provider whose webhooks we sign-check with a secret we mint (the generic provider, and
the Finesse connector's relay).

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds, 5-minute tolerance) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; several space-separated
signatures are accepted, and a connection may hold several secrets, so secrets can rotate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from django.http import HttpRequest

from integrations.provider import WebhookRejected

TIMESTAMP_TOLERANCE_SECONDS = 5 * 60  # Standard Webhooks' recommendation


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def rotate_secrets(current: list[str]) -> list[str]:
    # The new secret signs from now on; the previous ones keep verifying until retired, so
    # the sender can switch over without a webhook being refused.
    return [new_secret(), *current]


def retire_secrets(current: list[str]) -> list[str]:
    return current[:1]


def verify_signature(request: HttpRequest, accepted: list[str]) -> None:
    """Raise WebhookRejected (401) unless one of the accepted secrets signed the request."""
    headers = {
        name: request.headers.get(name, "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise WebhookRejected(f"Missing header(s): {', '.join(missing)}.", status=401)
    if not accepted:
        raise WebhookRejected("This connection has no signing secret yet.", status=401)
    _check_timestamp(headers["webhook-timestamp"])
    tokens = _signature_tokens(headers["webhook-signature"])
    if not tokens:
        raise WebhookRejected(
            "Malformed webhook-signature header: expected 'v1,<base64>'.", status=401
        )
    # The raw bytes are what was signed: decoding first would verify a different body.
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    for secret in accepted:
        expected = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, token) for token in tokens):
            return
    raise WebhookRejected("No signature matches any of this connection's secrets.", status=401)


def _check_timestamp(header: str) -> None:
    try:
        sent = int(header)
    except ValueError:
        raise WebhookRejected("webhook-timestamp must be Unix seconds.", status=401) from None
    skew = time.time() - sent
    if skew > TIMESTAMP_TOLERANCE_SECONDS:
        raise WebhookRejected("Message timestamp too old (tolerance is 5 minutes).", status=401)
    if skew < -TIMESTAMP_TOLERANCE_SECONDS:
        raise WebhookRejected("Message timestamp too new (tolerance is 5 minutes).", status=401)


def _signature_tokens(header: str) -> list[bytes]:
    """Every well-formed `v1,<base64>` signature in the header; malformed ones are skipped, so
    one bad token does not hide a good one beside it."""
    tokens = []
    for token in header.split():
        version, _, signature = token.partition(",")
        if version != "v1" or not signature:
            continue
        try:
            tokens.append(base64.b64decode(signature, validate=True))
        except binascii.Error:
            continue
    return tokens


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))
