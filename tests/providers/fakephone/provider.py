"""FakePhone as a Callbridge provider: the test proof that a provider is one class.

It lives under tests/ and is registered only through the `EXTRA_PROVIDERS` environment variable
(tests/settings.py), so no product file names it. Unlike the generic provider it has setup
fields (its API address, an API key and the webhook secret FakePhone made, both secret), signs
with a secret we do not mint, answers webhooks with an empty 200, speaks its own JSON, and
implements both capabilities against FakePhone's API (tests/providers/fakephone/server.py).
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from django.http import HttpRequest

from integrations.events import AgentIdentity, CallEvent, Direction, Happening, normalise_number
from integrations.models import ProviderConnection
from integrations.provider import (
    PlaceCallRequest,
    Placed,
    Provider,
    Refused,
    SetupField,
    WebhookAnswer,
    WebhookRejected,
)
from portal import clock
from tests.providers.fakephone.server import SIGNATURE_HEADER, signature

DIRECTIONS = {"outgoing": Direction.OUTBOUND, "incoming": Direction.INBOUND}
HAPPENINGS = {
    "dialing": Happening.DIALLING,
    "ringing": Happening.RINGING,
    "answered": Happening.ANSWERED,
    "voicemail": Happening.ANSWERED_BY_VOICEMAIL,
    "busy": Happening.REJECTED,
    "no-answer": Happening.NOT_ANSWERED,
    "failed": Happening.SETUP_FAILED,
    "hangup": Happening.ENDED,
    "recording": Happening.RECORDING_READY,
}
FETCH_TIMEOUT_SECONDS = 5.0


class FakePhoneProvider(Provider):
    kind = "fakephone"
    label = "FakePhone (test provider)"
    instructions = (
        "In FakePhone's console, paste the connection's webhook URL; copy FakePhone's API key "
        "and webhook signing secret here."
    )
    content_types = ("application/json",)
    answer = WebhookAnswer.EMPTY
    setup_fields = (
        SetupField(name="api_url", label="API address", help_text="e.g. http://127.0.0.1:8080"),
        SetupField(name="api_key", label="API key", secret=True),
        SetupField(name="webhook_secret", label="Webhook signing secret", secret=True),
    )

    def verify(self, request: HttpRequest, connection: ProviderConnection) -> None:
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise WebhookRejected(f"Missing {SIGNATURE_HEADER} header.", status=401)
        expected = signature(connection.setup_values()["webhook_secret"], request.body)
        if not hmac.compare_digest(given, expected):
            raise WebhookRejected("Signature does not match the webhook secret.", status=401)

    def parse(self, request: HttpRequest, connection: ProviderConnection) -> list[CallEvent]:
        try:
            body = json.loads(request.body)
            return [self._event(body["call"], body["event"], connection)]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected(f"Not a FakePhone call event: {error!r}.", status=422) from None

    def place_call(
        self, request: PlaceCallRequest, *, deadline: datetime, idempotency_key: str
    ) -> Placed | Refused:
        setup = request.connection.setup_values()
        seconds = (deadline - clock.now()).total_seconds()
        if seconds <= 0:
            return Refused("There was no time left to place the call; try again.", permanent=False)
        try:
            response = httpx.post(
                f"{setup['api_url']}/v1/calls",
                json={
                    "to": request.to_number,
                    "from": request.from_number,
                    "agent": request.agent.get("email", ""),
                    "reference": request.outreach_call_id,
                },
                headers=_auth(setup) | {"Idempotency-Key": idempotency_key},
                timeout=seconds,
            )
        except httpx.TransportError:
            return Refused("FakePhone did not answer in time; try again.", permanent=False)
        if response.status_code in (200, 201):
            return Placed(provider_call_id=response.json()["id"])
        if response.status_code in (401, 403):
            return Refused(
                "FakePhone refused our API key: an admin must update it on the Telephony page.",
                permanent=True,
            )
        if response.status_code == 429 or response.status_code >= 500:
            return Refused("FakePhone is busy; try again.", permanent=False)
        return Refused(f"FakePhone refused the call: {_error(response)}", permanent=True)

    def fetch_call_state(
        self, connection: ProviderConnection, provider_call_id: str
    ) -> list[CallEvent] | None:
        setup = connection.setup_values()
        try:
            response = httpx.get(
                f"{setup['api_url']}/v1/calls/{quote(provider_call_id, safe='')}",
                headers=_auth(setup),
                timeout=FETCH_TIMEOUT_SECONDS,
            )
            if response.status_code != 200:
                return None  # a call it does not know, or it cannot say now
            body = response.json()
            return [self._event(body["call"], event, connection) for event in body["events"]]
        except (httpx.TransportError, ValueError, KeyError, TypeError, WebhookRejected):
            return None

    def _event(
        self, call: dict[str, Any], event: dict[str, Any], connection: ProviderConnection
    ) -> CallEvent:
        region = connection.organization.default_region
        try:
            happening = HAPPENINGS[event["type"]]
        except KeyError:
            raise WebhookRejected(
                f"Unknown FakePhone event type {event.get('type')!r}.", status=422
            ) from None
        return CallEvent(
            dedup_key=event["id"],  # the same from a webhook and from fetch_call_state
            provider=self.kind,
            provider_call_id=call["id"],
            direction=DIRECTIONS[call["direction"]],
            happening=happening,
            occurred_at=datetime.fromisoformat(event["at"]),
            outreach_call_id=call.get("reference", ""),
            from_number=normalise_number(call["from"], default_region=region)
            if call.get("from")
            else None,
            to_number=normalise_number(call["to"], default_region=region)
            if call.get("to")
            else None,
            agent=AgentIdentity(email=call.get("agent", "")),
            link=event.get("recording_url", ""),
            raw={"call": call, "event": event},
        )


def _auth(setup: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {setup['api_key']}"}


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
