"""FakePhoneProvider against the fake phone system on loopback: the provider seam's two
capabilities and its webhook half, at the level of the provider class and the real door."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.test import Client

from calls.models import Call, InboxEvent
from integrations.events import Direction, Happening
from integrations.models import ProviderConnection, WebhookReceipt
from integrations.provider import Capability, PlaceCallRequest, Placed, Refused
from integrations.registry import provider_for
from portal import clock
from portal.tenancy.models import Organization
from tests.providers.fakephone.provider import FakePhoneProvider
from tests.providers.fakephone.server import SIGNATURE_HEADER, FakePhone, signature


@pytest.fixture
def fake_phone() -> Iterator[FakePhone]:
    with FakePhone().running() as phone:
        yield phone


@pytest.fixture
def connection(db: None, fake_phone: FakePhone) -> ProviderConnection:
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    connection = ProviderConnection(organization=organization, kind="fakephone", name="Fake")
    connection.set_setup_values(
        {
            "api_url": fake_phone.url,
            "api_key": fake_phone.api_key,
            "webhook_secret": fake_phone.webhook_secret,
        }
    )
    connection.save()
    return connection


def dial(connection: ProviderConnection, *, to: str = "+12065550100") -> PlaceCallRequest:
    return PlaceCallRequest(
        connection=connection,
        outreach_call_id="4711",
        to_number=to,
        from_number="+14155550100",
        agent={"email": "rita@pbx.example"},
    )


def in_seconds(seconds: float) -> object:
    return clock.now() + timedelta(seconds=seconds)


def test_it_is_registered_from_extra_providers_with_both_capabilities() -> None:
    provider = provider_for("fakephone")
    assert isinstance(provider, FakePhoneProvider)
    assert provider.supports(Capability.PLACE_CALL)
    assert provider.supports(Capability.FETCH_CALL_STATE)
    # The generic provider places calls (through its dial URL) but cannot be asked about one.
    assert provider_for("generic").supports(Capability.PLACE_CALL)
    assert not provider_for("generic").supports(Capability.FETCH_CALL_STATE)


def test_it_places_a_call_once_per_idempotency_key(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    provider = provider_for("fakephone")
    placed = provider.place_call(dial(connection), deadline=in_seconds(5), idempotency_key="k-1")
    again = provider.place_call(dial(connection), deadline=in_seconds(5), idempotency_key="k-1")
    assert isinstance(placed, Placed) and again == placed
    call = fake_phone.calls[placed.provider_call_id]
    assert (call.direction, call.to, call.agent, call.reference) == (
        "outgoing",
        "+12065550100",
        "rita@pbx.example",
        "4711",
    )
    assert len(fake_phone.calls) == 1


def test_it_refuses_for_good_when_fakephone_rejects_the_api_key(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    connection.set_setup_values({**connection.setup_values(), "api_key": "fp_wrong"})
    answer = provider_for("fakephone").place_call(
        dial(connection), deadline=in_seconds(5), idempotency_key="k-2"
    )
    assert answer == Refused(
        "FakePhone refused our API key: an admin must update it on the Telephony page.",
        permanent=True,
    )
    assert fake_phone.api_key not in answer.reason and not fake_phone.calls


def test_it_refuses_for_good_a_number_fakephone_cannot_dial(
    connection: ProviderConnection,
) -> None:
    answer = provider_for("fakephone").place_call(
        dial(connection, to="0800 CALL ME"), deadline=in_seconds(5), idempotency_key="k-3"
    )
    assert answer == Refused(
        "FakePhone refused the call: 'to' must be an E.164 number", permanent=True
    )


@pytest.mark.parametrize("status", [429, 503])
def test_it_refuses_for_now_when_fakephone_is_busy(
    connection: ProviderConnection, fake_phone: FakePhone, status: int
) -> None:
    fake_phone.refuse_next(status)
    provider = provider_for("fakephone")
    answer = provider.place_call(dial(connection), deadline=in_seconds(5), idempotency_key="k-4")
    assert answer == Refused("FakePhone is busy; try again.", permanent=False)
    # Trying again with the same key places the call.
    again = provider.place_call(dial(connection), deadline=in_seconds(5), idempotency_key="k-4")
    assert isinstance(again, Placed)


def test_it_gives_up_at_the_deadline(connection: ProviderConnection, fake_phone: FakePhone) -> None:
    fake_phone.hang_next(3)
    answer = provider_for("fakephone").place_call(
        dial(connection), deadline=in_seconds(0.5), idempotency_key="k-5"
    )
    assert answer == Refused("FakePhone did not answer in time; try again.", permanent=False)
    past = provider_for("fakephone").place_call(
        dial(connection), deadline=in_seconds(-1), idempotency_key="k-6"
    )
    assert isinstance(past, Refused) and not past.permanent


def test_it_fetches_what_fakephone_now_reports_about_a_call(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    provider = provider_for("fakephone")
    placed = provider.place_call(dial(connection), deadline=in_seconds(5), idempotency_key="k-7")
    assert isinstance(placed, Placed)
    for kind in ("dialing", "ringing", "answered", "hangup"):
        fake_phone.happen(placed.provider_call_id, kind)
    fake_phone.happen(placed.provider_call_id, "recording", recording_url="https://rec.example/1")
    events = provider.fetch_call_state(connection, placed.provider_call_id)
    assert events is not None
    assert [e.happening for e in events] == [
        Happening.DIALLING,
        Happening.RINGING,
        Happening.ANSWERED,
        Happening.ENDED,
        Happening.RECORDING_READY,
    ]
    first = events[0]
    assert (first.provider, first.provider_call_id, first.direction) == (
        "fakephone",
        placed.provider_call_id,
        Direction.OUTBOUND,
    )
    assert (first.outreach_call_id, first.to_number.e164, first.agent.email) == (
        "4711",
        "+12065550100",
        "rita@pbx.example",
    )
    assert events[-1].link == "https://rec.example/1"
    assert [e.dedup_key for e in events] == [f"{placed.provider_call_id}.{n}" for n in range(1, 6)]


def test_it_says_unknown_when_fakephone_cannot_say(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    provider = provider_for("fakephone")
    assert provider.fetch_call_state(connection, "fp-404") is None
    fake_phone.refuse_next(503)
    call = fake_phone.call_in(from_="+14155550123", to="+12065550100", agent="rita@pbx.example")
    assert provider.fetch_call_state(connection, call.id) is None
    connection.set_setup_values({**connection.setup_values(), "api_url": "http://127.0.0.1:9"})
    assert provider.fetch_call_state(connection, call.id) is None


def test_it_reads_the_same_event_from_a_webhook_and_from_a_fetch(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    """A webhook that arrives after reconciliation fetched its event is a duplicate."""
    call = fake_phone.call_in(from_="(415) 555-0123", to="+12065550100", agent="rita@pbx.example")
    event = fake_phone.happen(call.id, "ringing", notify=False)
    body = fake_phone.webhook_body(call, event)
    fetched = provider_for("fakephone").fetch_call_state(connection, call.id)
    response = post(connection, body, signature(fake_phone.webhook_secret, body))
    assert response.status_code == 200 and response.content == b""  # its declared answer
    stored = InboxEvent.objects.get()
    assert fetched is not None and stored.dedup_key == fetched[0].dedup_key
    assert Call.objects.get().from_number == "+14155550123"  # in the organisation's region


def post(connection: ProviderConnection, body: bytes, signed: str | None) -> object:
    headers = {SIGNATURE_HEADER: signed} if signed else {}
    return Client().post(
        f"/hooks/fakephone/{connection.webhook_token}/",
        body,
        content_type="application/json",
        headers=headers,
    )


def test_it_refuses_an_unsigned_or_wrongly_signed_webhook(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    call = fake_phone.call_in(from_="+14155550123", to="+12065550100", agent="rita@pbx.example")
    body = fake_phone.webhook_body(call, fake_phone.happen(call.id, "ringing"))
    missing = post(connection, body, None)
    assert (missing.status_code, missing.json()) == (
        401,
        {"error": "Missing X-FakePhone-Signature header."},
    )
    wrong = post(connection, body, signature("not-the-secret", body))
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"error": "Signature does not match the webhook secret."},
    )
    assert WebhookReceipt.objects.filter(provider="fakephone").count() == 2
    assert not InboxEvent.objects.exists()


def test_it_refuses_a_webhook_in_another_format(
    connection: ProviderConnection, fake_phone: FakePhone
) -> None:
    body = json.dumps({"events": [{"id": "evt-1"}]}).encode()
    response = post(connection, body, signature(fake_phone.webhook_secret, body))
    assert response.status_code == 422
    assert response.json()["error"].startswith("Not a FakePhone call event")
    unknown = json.dumps(
        {"call": {"id": "fp-1", "direction": "incoming"}, "event": {"id": "e", "type": "beamed"}}
    ).encode()
    response = post(connection, unknown, signature(fake_phone.webhook_secret, unknown))
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Unknown FakePhone event type 'beamed'."},
    )


def test_it_takes_the_content_types_from_the_provider_class(
    connection: ProviderConnection,
) -> None:
    response = Client().post(
        f"/hooks/fakephone/{connection.webhook_token}/", "a=1", content_type="text/plain"
    )
    assert (response.status_code, response.json()) == (
        415,
        {"error": "Content-Type must be application/json, not 'text/plain'."},
    )
