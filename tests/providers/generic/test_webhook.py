"""The generic webhook's answers to everything a sender can get wrong: a clear 4xx with a JSON
reason, a receipt support staff can read, and nothing else changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from calls.models import Call, InboxEvent
from integrations.models import ProviderConnection, WebhookReceipt, WebhookRefusalTally
from portal.tenancy.models import Organization
from tests.pipeline.helpers import signed_headers

SECRET = "whsec_" + "dGhlLWdlbmVyaWMtd2ViaG9vay1zZWNyZXQ="
# The events' time: recent enough for the door (up to 7 days ago), and the same in every event.
RECENTLY = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0).isoformat()
OLD_SECRET = "whsec_" + "b2xkLXNlY3JldC1iZWluZy1yb3RhdGVkLW91dA=="


@pytest.fixture
def connection(db: None) -> ProviderConnection:
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    return ProviderConnection.objects.create(
        organization=organization, kind="generic", name="PBX", webhook_secrets=SECRET
    )


def event(**overrides: object) -> dict:
    return {
        "id": "evt-1",
        "call_id": "pbx-1",
        "direction": "outbound",
        "happening": "ringing",
        "occurred_at": RECENTLY,
        "outreach_call_id": "A1B2",
        "agent": {"email": "rita@pbx.example"},
        **overrides,
    }


def post(
    connection: ProviderConnection,
    body: str,
    *,
    secret: str = SECRET,
    content_type: str = "application/json",
    **headers: str,
) -> object:
    return Client().post(
        f"/hooks/generic/{connection.webhook_token}/",
        body,
        content_type=content_type,
        headers={**signed_headers(secret, body), **headers},
    )


def refused(response: object, status: int, reason: str) -> None:
    assert response.status_code == status, response.content
    assert reason in response.json()["error"]
    receipt = WebhookReceipt.objects.get()
    assert (receipt.status, receipt.reason) == (status, response.json()["error"])
    assert not InboxEvent.objects.exists()
    assert not Call.objects.exists()


def test_it_accepts_a_signed_event_once_and_counts_the_repeat(
    connection: ProviderConnection,
) -> None:
    body = json.dumps({"events": [event()]})
    assert post(connection, body).json() == {"stored": 1, "duplicates": 0}
    assert post(connection, body).json() == {"stored": 0, "duplicates": 1}
    stored = InboxEvent.objects.get()
    assert (stored.happening, stored.duplicates) == ("ringing", 1)
    assert stored.raw == event()


def test_it_accepts_a_signature_made_with_the_previous_secret(
    connection: ProviderConnection,
) -> None:
    connection.webhook_secrets = f"{SECRET} {OLD_SECRET}"
    connection.save()
    response = post(connection, json.dumps({"events": [event()]}), secret=OLD_SECRET)
    assert response.status_code == 200


def test_it_accepts_several_signatures_in_one_header(connection: ProviderConnection) -> None:
    body = json.dumps({"events": [event()]})
    good = signed_headers(SECRET, body)
    bad = signed_headers(OLD_SECRET, body, msg_id=good["webhook-id"])
    two = f"{bad['webhook-signature']} {good['webhook-signature']}"
    response = Client().post(
        f"/hooks/generic/{connection.webhook_token}/",
        body,
        content_type="application/json",
        headers={**good, "webhook-signature": two},
    )
    assert response.status_code == 200


def test_it_refuses_a_missing_signature(connection: ProviderConnection) -> None:
    response = Client().post(
        f"/hooks/generic/{connection.webhook_token}/",
        json.dumps({"events": [event()]}),
        content_type="application/json",
    )
    refused(response, 401, "Missing header(s): webhook-id, webhook-timestamp, webhook-signature")


def test_it_refuses_a_bad_signature(connection: ProviderConnection) -> None:
    refused(
        post(connection, json.dumps({"events": [event()]}), secret=OLD_SECRET),
        401,
        "No signature matches",
    )


def test_it_refuses_a_malformed_signature_header(connection: ProviderConnection) -> None:
    refused(
        post(connection, json.dumps({"events": [event()]}), **{"webhook-signature": "v1"}),
        401,
        "Malformed webhook-signature",
    )


def test_it_refuses_a_timestamp_outside_the_tolerance(connection: ProviderConnection) -> None:
    body = json.dumps({"events": [event()]})
    stale = signed_headers(SECRET, body, at=datetime.now(UTC) - timedelta(minutes=6))
    response = Client().post(
        f"/hooks/generic/{connection.webhook_token}/",
        body,
        content_type="application/json",
        headers=stale,
    )
    refused(response, 401, "too old")


def test_it_refuses_an_unknown_connection_token(connection: ProviderConnection) -> None:
    response = Client().post("/hooks/generic/not-a-token/", "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"error": "Unknown or disabled connection token."}
    # Knocking on a door that does not exist costs the database one counter, not a row.
    assert not WebhookReceipt.objects.exists()
    tally = WebhookRefusalTally.objects.get()
    assert (tally.reason, tally.count) == ("unknown_provider_or_token", 1)
    Client().get("/hooks/generic/not-a-token/")
    Client().post("/hooks/nobody/x/", "{}", content_type="application/json")
    assert dict(WebhookRefusalTally.objects.values_list("reason", "count")) == {
        "unknown_provider_or_token": 2,
        "wrong_method": 1,
    }


def test_it_refuses_malformed_json(connection: ProviderConnection) -> None:
    refused(post(connection, '{"events": [}'), 400, "not valid JSON")


def test_it_refuses_a_wrong_content_type(connection: ProviderConnection) -> None:
    refused(
        post(connection, "events=1", content_type="application/x-www-form-urlencoded"),
        415,
        "Content-Type must be application/json",
    )


def test_it_refuses_a_body_over_one_megabyte(connection: ProviderConnection) -> None:
    body = json.dumps({"events": [event(extension="x" * (1024 * 1024))]})
    refused(post(connection, body), 413, "Body over 1048576 bytes")
    assert WebhookReceipt.objects.get().body_excerpt == ""


def test_it_refuses_an_unknown_happening(connection: ProviderConnection) -> None:
    refused(
        post(connection, json.dumps({"events": [event(happening="teleported")]})),
        422,
        "events[0].happening 'teleported' is not one of: dialling, ringing",
    )


def test_it_refuses_a_link_that_is_not_http(connection: ProviderConnection) -> None:
    body = json.dumps({"events": [event(happening="recording_ready", link="ftp://x/y.mp3")]})
    refused(post(connection, body), 422, "must be an http or https URL")


def test_it_refuses_a_recording_link_longer_than_outreach_keeps(
    connection: ProviderConnection,
) -> None:
    link = "https://rec.example/" + "a" * 240
    body = json.dumps({"events": [event(happening="recording_ready", link=link)]})
    refused(post(connection, body), 422, "longer than Outreach's 255 characters")


def test_it_refuses_the_whole_batch_when_one_event_is_bad(connection: ProviderConnection) -> None:
    body = json.dumps({"events": [event(), event(id="evt-2", occurred_at="yesterday")]})
    refused(post(connection, body), 422, "events[1].occurred_at is not an ISO 8601 date-time")


def test_it_refuses_a_time_without_a_zone(connection: ProviderConnection) -> None:
    body = json.dumps({"events": [event(occurred_at="2026-11-23T10:00:00")]})
    refused(post(connection, body), 422, "needs a time zone")


def test_it_reads_numbers_in_the_organisations_region_and_keeps_the_rest_as_they_came(
    connection: ProviderConnection,
) -> None:
    body = json.dumps({"events": [event(to="anonymous", **{"from": "(206) 555-0100"})]})
    assert post(connection, body).status_code == 200
    call = Call.objects.get()
    assert (call.to_number, call.from_number) == ("anonymous", "+12065550100")
    normalised = InboxEvent.objects.get().normalised
    assert normalised["to"] == {"raw": "anonymous", "e164": ""}
