"""Google CCAI Platform (formerly UJET): a contact centre whose agents' calls Outreach should see.

Calls are followed two ways, because the platform does not promise to deliver its pushes: its
external session events, POSTed to the connection's webhook URL with HTTP Basic auth (the
password is a secret we mint, since the platform signs nothing), and polling the call object
until it is final and its recording is known (`poll.py`). Reps' calls are placed through its
dial API (`place.py`). Reading a call object into happenings is `callobject.py` with the pure
table in `mapping.py`; README "Google CCAI Platform" has the tables and the admin's steps.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from datetime import datetime, timedelta

import httpx
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from integrations.ccai.client import api_request
from integrations.ccai.manual import manual_dial_match
from integrations.ccai.mapping import STATUSES
from integrations.ccai.place import place_ccai_call
from integrations.ccai.poll import poll_call
from integrations.ccai.sessions import session_events
from integrations.ccai.setup import setup_of, setup_problems
from integrations.events import CallEvent
from integrations.models import ProviderConnection
from integrations.provider import (
    PlaceCallOutcome,
    PlaceCallRequest,
    Polling,
    Provider,
    SetupField,
    WebhookAnswer,
    WebhookRejected,
    json_payload,
)

# The user name the platform's session-events settings send with the connection's password.
WEBHOOK_USER = "callbridge"
CHECK_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class CcaiProvider(Provider):
    kind = "ccai"
    label = "Google CCAI Platform (UJET)"
    instructions = (
        "In the CCAI Platform portal: Settings > Developer Settings gives the company key (API "
        "user) and its secret (API token). Under Session Data Export > External Session Events, "
        "turn on call events and give the connection's webhook URL as the API endpoint, user "
        "name 'callbridge' and the connection's secret as the password. A default outbound "
        "number avoids most dials that wait for the agent in the widget. The README has the "
        "details."
    )
    content_types = ("application/json",)
    answer = WebhookAnswer.JSON
    setup_fields = (
        SetupField(
            name="subdomain", label="Subdomain", help_text="“acme” for acme.ccaiplatform.com."
        ),
        SetupField(
            name="domain",
            label="Domain",
            help_text="The rest of your portal's address: ccaiplatform.com, ujet.co, ...",
        ),
        SetupField(
            name="api_user",
            label="API user",
            help_text="The company key of Settings > Developer Settings.",
        ),
        SetupField(name="api_token", label="API token", secret=True),
        SetupField(
            name="outbound_number",
            label="Default outbound number",
            help_text="Optional: the caller id for reps' calls, as managed under Phone Number "
            "Management. Without it, the agent may have to choose one in the widget.",
            required=False,
        ),
        SetupField(
            name="lang",
            label="Language",
            help_text="Optional: ISO 639-1 code of the calls' language (default en).",
            required=False,
        ),
        SetupField(
            name="requests_per_second",
            label="Requests per second",
            help_text="Optional: Callbridge's share of the platform's ~10 requests per second, "
            "which your other integrations share (default 5).",
            required=False,
        ),
        SetupField(
            name="manual_wait_seconds",
            label="Seconds to wait for the widget",
            help_text="Optional: how long a dial the agent must finish in the widget waits for "
            "the call before it fails (default 60).",
            required=False,
        ),
    )
    # The password of the session events' Basic auth: the platform signs nothing of its own.
    mints_signing_secret = True
    # Call objects by their status, and session events.
    events = (*STATUSES, "session")
    # Session events are not guaranteed: the call object is polled until final and recorded.
    polling = Polling(every=timedelta(seconds=5), up_to=timedelta(hours=2))

    def new_signing_secret(self) -> str:
        return "ccai_" + secrets.token_urlsafe(24)

    def rotate_signing_secrets(self, current: list[str]) -> list[str]:
        # The old password keeps working until retired, so the platform can be switched over.
        return [self.new_signing_secret(), *current]

    def retire_signing_secrets(self, current: list[str]) -> list[str]:
        return current[:1]

    def check_setup(self, values: dict[str, str]) -> None:
        problems = setup_problems(values)
        if problems:
            raise ValidationError(problems)
        if not values.get("api_user") or not values.get("api_token"):
            return  # each field's own `required` says so
        setup = setup_of(values)
        # A cheap read the API user may make: one call of the list.
        try:
            response = api_request(setup, "GET", "/calls?per=1", timeout=CHECK_TIMEOUT)
        except httpx.TransportError as error:
            raise ValidationError(
                {"domain": f"Callbridge could not reach {setup.host} ({type(error).__name__})."}
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise ValidationError(
                {"api_token": f"The CCAI Platform refused this API user and token (HTTP {status})."}
            )
        if status == 404:
            raise ValidationError(
                {
                    "subdomain": f"No CCAI Platform answers at {setup.host} (HTTP 404): "
                    "check the subdomain."
                }
            )
        if status != 200:
            raise ValidationError(
                f"The CCAI Platform could not check these credentials now (HTTP {status}); "
                "save again in a moment."
            )

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not encoded:
            raise WebhookRejected("Missing HTTP Basic authorization.", status=401)
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise WebhookRejected("Malformed HTTP Basic authorization.", status=401) from None
        accepted = connection.signing_secrets()
        matches = [hmac.compare_digest(password.encode(), s.encode()) for s in accepted]
        if not hmac.compare_digest(user.encode(), WEBHOOK_USER.encode()) or not any(matches):
            raise WebhookRejected("Wrong user name or password.", status=401)

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        events = session_events(
            json_payload(request.body),
            kind=self.kind,
            region=connection.organization.default_region,
        )
        # A fixture's connection is not saved: nothing can be waiting for it.
        return manual_dial_match(connection, events) if connection.pk else events

    def place_call(
        self, request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
    ) -> PlaceCallOutcome:
        return place_ccai_call(request, deadline=deadline, idempotency_key=idempotency_key)

    def fetch_call_state(
        self, connection: ProviderConnection, provider_call_id: str
    ) -> list[CallEvent] | None:
        return poll_call(connection, provider_call_id, kind=self.kind)
