"""The Finesse connector at the webhook door: the relay's HTTP Basic credentials or a Standard
Webhooks signature, the agent's password kept nowhere, and a clear refusal of what cannot be
read, with the payload (without its secrets) kept for support staff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from calls.models import Call, InboxEvent
from integrations.finesse.provider import FinesseProvider
from integrations.models import ProviderConnection, WebhookReceipt
from portal.tenancy.models import Organization
from tests.pipeline.helpers import signed_headers
from tests.providers.finesse.connector import (
    AGENT_PASSWORD,
    RELAY_PASSWORD,
    RELAY_USER,
    basic_auth,
    body,
    connector_event,
    dialog_of,
)

SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtZmluZXNzZS1yZWxheQ=="


@pytest.fixture
def connection(db: None) -> ProviderConnection:
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    connection = ProviderConnection(
        organization=organization, kind="finesse", name="Contact centre", webhook_secrets=SECRET
    )
    connection.set_setup_values({"basic_username": RELAY_USER, "basic_password": RELAY_PASSWORD})
    connection.save()
    return connection


def url(connection: ProviderConnection) -> str:
    return f"/hooks/finesse/{connection.webhook_token}/"


def now_event(fixture: str = "ACTIVE__outbound_campaign_seed", **changes: object) -> dict:
    return connector_event(fixture, at=datetime.now(UTC) - timedelta(seconds=20), call=3, **changes)


def relay(connection: ProviderConnection, payload: dict | str, **headers: str):
    text = payload if isinstance(payload, str) else body(payload)
    headers = headers or {"Authorization": basic_auth()}
    return Client().post(url(connection), text, content_type="application/json", headers=headers)


def test_it_accepts_the_relays_basic_credentials_once_per_happening(
    connection: ProviderConnection,
) -> None:
    payload = now_event()
    first = relay(connection, payload)
    assert (first.status_code, first.json()) == (200, {"stored": 1, "duplicates": 0})
    again = relay(connection, payload)
    assert again.json() == {"stored": 0, "duplicates": 1}
    stored = InboxEvent.objects.get()
    assert (stored.happening, stored.call.provider_call_id) == ("answered", "152995-3")
    assert AGENT_PASSWORD not in json.dumps(stored.raw)
    assert stored.raw["payload"]["data"]["call"]["ResponseActual"]["user"]["password"] == (
        "(removed by Callbridge)"
    )


def test_it_accepts_a_standard_webhooks_signature_instead(connection: ProviderConnection) -> None:
    text = body(now_event())
    answer = relay(connection, text, **signed_headers(SECRET, text))
    assert answer.status_code == 200, answer.content
    assert Call.objects.get().direction == "outbound"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": basic_auth(password="guess-guess-guess-guess")},
        {"Authorization": basic_auth(user="someone-else")},
        {"Authorization": "Bearer " + RELAY_PASSWORD},
        {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
    ],
    ids=["wrong password", "wrong user", "not basic", "bad signature"],
)
def test_it_refuses_wrong_credentials_keeping_the_body_without_the_password(
    connection: ProviderConnection, headers: dict[str, str]
) -> None:
    answer = relay(connection, now_event(), **headers)
    assert answer.status_code == 401
    assert not InboxEvent.objects.exists()
    receipt = WebhookReceipt.objects.get()
    assert "OutBoundCallStateChange" in receipt.body_excerpt
    assert AGENT_PASSWORD not in receipt.body_excerpt


def test_it_refuses_an_unparseable_time_naming_the_field_and_keeps_the_payload(
    connection: ProviderConnection,
) -> None:
    relay(connection, now_event("ALERTING__outbound_agent"))  # the call is known
    payload = now_event("ACTIVE__outbound_agent")
    dialog_of(payload)["CallStateChangeTime"] = "21/11/2019 06h39"
    answer = relay(connection, payload)
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(
        "data.call.ResponseActual.dialog.CallStateChangeTime '21/11/2019 06h39' is not an "
        "ISO 8601 time"
    )
    receipt = WebhookReceipt.objects.get()
    kept = json.loads(receipt.body_excerpt)  # the whole payload, for support staff
    assert dialog_of(kept)["CallStateChangeTime"] == "21/11/2019 06h39"
    assert AGENT_PASSWORD not in receipt.body_excerpt
    call = Call.objects.get()
    assert "CallStateChangeTime" in call.attention  # noted on the call it was about
    assert InboxEvent.objects.count() == 1  # nothing of the refused event was stored


def test_it_acknowledges_the_connectors_other_messages_without_storing_anything(
    connection: ProviderConnection,
) -> None:
    payload = now_event()
    payload["subtopic"] = "ScheduleCallback"
    answer = relay(connection, payload)
    assert (answer.status_code, answer.json()) == (200, {"stored": 0, "duplicates": 0})


def test_it_refuses_setup_values_that_cannot_work() -> None:
    with pytest.raises(ValidationError) as refused:
        FinesseProvider().check_setup(
            {
                "basic_username": "relay",
                "basic_password": "short",
                "finesse_url": "finesse.example.com/finesse/api",
                "dial_prefix": "9a",
                "outreach_call_variable": "BAResponse",
            }
        )
    assert set(refused.value.message_dict) == {
        "basic_password",
        "finesse_url",
        "dial_prefix",
        "outreach_call_variable",
    }
    FinesseProvider().check_setup(
        {
            "finesse_url": "https://finesse1.example.com:8445",
            "dial_prefix": "9",
            "outreach_call_variable": "callVariable10",
        }
    )
