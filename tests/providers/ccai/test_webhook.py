"""The CCAI Platform at the webhook door: session events with the connection's Basic auth are
stored once whichever way they come, and everything else is refused clearly - a value we will
not guess from noted on the call it was about."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from calls.models import Call, InboxEvent
from calls.selectors import calls_needing_attention
from integrations.models import ProviderConnection, WebhookReceipt
from portal.tenancy.models import Organization
from tests.providers.webhook_case import payload_of

PASSWORD = "ccai_" + "a-password-for-the-door-tests"


@pytest.fixture
def connection(db: None) -> ProviderConnection:
    organization = Organization.objects.create(name="Acme", slug="acme")
    return ProviderConnection.objects.create(
        organization=organization, kind="ccai", name="CCAI", webhook_secrets=PASSWORD
    )


def now_event(name: str) -> dict:
    """A fixture as the platform would push it now: the door refuses events older than 7 days."""
    body = payload_of("ccai", name)
    stamp = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    item = body.get("item", body)
    for field in (
        "created_at",
        "queued_at",
        "assigned_at",
        "connected_at",
        "ends_at",
        "updated_at",
    ):
        if item.get(field):
            item[field] = stamp
    return body


def push(connection: ProviderConnection, body: dict, *, password: str = PASSWORD) -> object:
    auth = base64.b64encode(f"callbridge:{password}".encode()).decode()
    return Client().post(
        f"/hooks/ccai/{connection.webhook_token}/",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Basic {auth}"},
    )


def test_it_stores_a_session_event_once(connection: ProviderConnection) -> None:
    body = now_event("session__inbound_call_object")
    first, again = push(connection, body), push(connection, body)
    assert first.json() == {"stored": 1, "duplicates": 0}
    assert again.json() == {"stored": 0, "duplicates": 1}
    call = Call.objects.get(provider_call_id="515")
    assert (call.direction, call.from_number, call.to_number) == (
        "inbound",
        "+18596579625",
        "+13392195276",
    )
    assert list(InboxEvent.objects.values_list("happening", flat=True)) == ["caller_hung_up"]


def test_it_refuses_a_wrong_password(connection: ProviderConnection) -> None:
    response = push(connection, now_event("session__inbound_start"), password="guess")
    assert (response.status_code, response.json()["error"]) == (401, "Wrong user name or password.")
    assert WebhookReceipt.objects.get().status == 401
    assert not Call.objects.exists()


def test_it_notes_an_unmapped_value_on_the_call_it_was_about(
    connection: ProviderConnection,
) -> None:
    assert push(connection, now_event("session__inbound_start")).status_code == 200
    body = now_event("session__inbound_call_object")
    body["item"]["status"] = "teleported"
    response = push(connection, body)
    assert response.status_code == 422
    assert response.json()["error"] == (
        "Unmapped: status 'teleported' is not one the platform documents."
    )
    call = Call.objects.get(provider_call_id="515")
    assert "Unmapped: status 'teleported'" in call.attention
    assert call in calls_needing_attention(Call.objects.all())


def test_it_refuses_an_event_without_a_call_id(connection: ProviderConnection) -> None:
    body = now_event("session__inbound_start")
    del body["item"]["call_id"]
    response = push(connection, body)
    assert (response.status_code, response.json()["error"]) == (
        422,
        "item.call_id is required (the platform's call id).",
    )
