"""Outreach's token endpoint: exchanging an authorisation code, and refreshing.

`POST {OUTREACH_OAUTH_URL}/token`, form-encoded (seeds/README.md "Outreach OAuth 2.0"). Access
tokens last 7200 s and every refresh answers a new refresh token (the old one stops working), so
the caller must store what this returns before anything else can fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from integrations.outreach.errors import (
    OutreachRateLimited,
    TokenEndpointFailing,
    TokenRefused,
)
from integrations.outreach.transport import error_of, new_http_client, retry_after, send
from portal.encryption import MASK, Secret

# The refresh holds the connection's row lock while it waits for this endpoint; the whole
# request must end well before a waiting worker's lock timeout (services.REFRESH_LOCK_TIMEOUT).
TOKEN_TIMEOUT = httpx.Timeout(8.0, connect=3.0)
TOKEN_FIELDS = ("access_token", "refresh_token", "expires_in")
TOKEN_PATH = "/oauth/token"


@dataclass(frozen=True)
class TokenGrant:
    access_token: Secret
    refresh_token: Secret
    expires_at: datetime
    scopes: list[str]


def authorize_url() -> str:
    return settings.OUTREACH_OAUTH_URL.rstrip("/") + "/authorize"


def token_url() -> str:
    return settings.OUTREACH_OAUTH_URL.rstrip("/") + "/token"


def exchange_code(*, code: str, redirect_uri: str) -> TokenGrant:
    return _token_request(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    )


def refresh_grant(*, refresh_token: Secret) -> TokenGrant:
    return _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()})


def _redact(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: MASK if k in ("access_token", "refresh_token") else v for k, v in body.items()}
    return body


def _token_request(form: dict[str, str]) -> TokenGrant:
    form = {
        **form,
        "client_id": settings.OUTREACH_CLIENT_ID,
        "client_secret": settings.OUTREACH_CLIENT_SECRET,
    }
    with new_http_client(TOKEN_TIMEOUT) as http:
        response, body, attempt = send(
            http,
            "POST",
            token_url(),
            path=TOKEN_PATH,
            # Only the grant type is recorded: the rest of the form is secrets.
            recorded_body={"grant_type": form["grant_type"]},
            redact=_redact,
            data=form,
            headers={"Accept": "application/json"},
        )
    attempts = [attempt]
    if response is None:
        raise TokenEndpointFailing("Outreach's token endpoint did not answer.", attempts=attempts)
    status = response.status_code
    error_id, detail = error_of(body)
    if status == 429:
        raise OutreachRateLimited(
            "Outreach refused to mint another token so soon (429).",
            retry_after=retry_after(response) or 60.0,
            error_id=error_id or "too_many_requests",
            detail=detail,
            attempts=attempts,
        )
    if status >= 500 or status == 408:
        raise TokenEndpointFailing(
            f"Outreach's token endpoint failed ({status}).",
            status=status,
            error_id=error_id,
            detail=detail,
            attempts=attempts,
        )
    if error_id == "invalid_grant":
        raise TokenRefused(
            "Outreach no longer accepts this authorisation: it must be connected again.",
            status=status,
            error_id=error_id,
            detail=detail,
            attempts=attempts,
        )
    if status != 200:
        raise TokenEndpointFailing(
            f"Outreach's token endpoint refused the request ({status} {error_id or ''}).".strip(),
            status=status,
            error_id=error_id,
            detail=detail,
            attempts=attempts,
        )
    return _grant_from(body, attempts)


def _grant_from(body: Any, attempts: list) -> TokenGrant:
    missing = [
        name for name in TOKEN_FIELDS if not isinstance(body, dict) or body.get(name) in (None, "")
    ]
    if not missing:
        try:
            lifetime = int(body["expires_in"])
        except (TypeError, ValueError):
            missing = ["expires_in"]
    if missing:
        raise TokenEndpointFailing(
            f"Outreach's token response lacks {', '.join(missing)}.",
            status=200,
            error_id="invalidTokenResponse",
            attempts=attempts,
        )
    return TokenGrant(
        access_token=Secret(str(body["access_token"])),
        refresh_token=Secret(str(body["refresh_token"])),
        expires_at=timezone.now() + timedelta(seconds=lifetime),
        scopes=str(body.get("scope") or "").split(),
    )
