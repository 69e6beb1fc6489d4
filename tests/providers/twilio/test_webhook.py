"""Twilio at the webhook door: a signature checked against the exact URL Twilio was given, the
answer Twilio expects, and a clear refusal of everything else, noted on the call it was about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from calls.models import Call, InboxEvent
from calls.selectors import call_timeline, calls_needing_attention
from integrations.models import ProviderConnection, WebhookReceipt
from integrations.twilio.addresses import CONNECTION_OVERRIDES, callback_url
from integrations.twilio.links import recording_link
from portal.tenancy.models import Organization
from tests.providers.twilio.phone import SETUP, sent_url, signature
from tests.providers.webhook_case import payload_of

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def connection(db: None) -> ProviderConnection:
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    connection = ProviderConnection(organization=organization, kind="twilio", name="Twilio")
    connection.set_setup_values(SETUP)
    connection.save()
    return connection


def fixture(name: str) -> dict[str, str]:
    """A fixture as Twilio would send it now: the door refuses events older than 7 days."""
    params = payload_of("twilio", name)
    for name_of_time in ("Timestamp", "RecordingStartTime"):
        if name_of_time in params:
            params[name_of_time] = format_datetime(datetime.now(UTC) - timedelta(seconds=30))
    return params


def post(url: str, params: dict[str, str], *, signed_url: str | None = None, **headers: str):
    """POST as Twilio does: to the URL without its fragment, signed over `signed_url` (the URL
    as given to Twilio, by default)."""
    signed = {"X-Twilio-Signature": signature(signed_url or url, params), **headers}
    return Client().post(sent_url(url), urlencode(params), content_type=FORM, headers=signed)


def refused(response: object, status: int, reason: str) -> WebhookReceipt:
    assert response.status_code == status, response.content
    assert reason in response.json()["error"]
    receipt = WebhookReceipt.objects.get()
    assert (receipt.status, receipt.reason) == (status, response.json()["error"])
    return receipt


def test_it_gives_twilio_a_url_that_retries_what_failed(connection: ProviderConnection) -> None:
    url = connection.webhook_url()  # what the Telephony page shows
    assert url.endswith(f"/hooks/twilio/{connection.webhook_token}/#{CONNECTION_OVERRIDES}")
    assert "rp=ct,rt,5xx" in url and url == callback_url(connection)
    outbound = callback_url(connection, outreach_call_id="4711")
    assert outbound.endswith(f"/?outreach_call_id=4711#{CONNECTION_OVERRIDES}")


def test_it_accepts_a_signed_status_callback_once_with_an_empty_200(
    connection: ProviderConnection,
) -> None:
    params = fixture("status-callback__agent_ringing")
    first = post(callback_url(connection), params)
    assert (first.status_code, first.content) == (200, b"")
    again = post(callback_url(connection), params)  # Twilio's retry
    assert (again.status_code, again.content) == (200, b"")
    stored = InboxEvent.objects.get()
    assert (stored.happening, stored.duplicates) == ("ringing", 1)
    assert stored.raw["params"] == params
    assert Call.objects.get().provider_call_id == params["ParentCallSid"]


def test_it_answers_a_dial_action_with_twiml(connection: ProviderConnection) -> None:
    response = post(callback_url(connection), fixture("dial-action__busy"))
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    assert response.content.decode().endswith("<Response/>")


def test_it_accepts_the_signature_of_the_url_without_its_fragment(
    connection: ProviderConnection,
) -> None:
    url = callback_url(connection)
    response = post(url, fixture("status-callback__agent_ringing"), signed_url=sent_url(url))
    assert response.status_code == 200


def test_it_checks_the_query_string_twilio_was_given(connection: ProviderConnection) -> None:
    url = callback_url(connection, outreach_call_id="4711")
    params = fixture("status-callback__outbound_ringing")
    assert post(url, params).status_code == 200
    assert InboxEvent.objects.get().normalised["outreach_call_id"] == "4711"
    tampered = url.replace("4711", "4712")  # signed for one Outreach call, sent for another
    response = post(tampered, params, signed_url=url)
    refused(response, 403, "X-Twilio-Signature does not match")
    assert InboxEvent.objects.count() == 1


def test_it_refuses_a_forged_or_missing_signature_with_403_and_stores_nothing(
    connection: ProviderConnection,
) -> None:
    params = fixture("status-callback__caller_completed")
    body = urlencode(params)
    path = sent_url(callback_url(connection))
    forged = RequestValidator("not-the-auth-token").compute_signature(
        callback_url(connection), params
    )
    response = Client().post(path, body, content_type=FORM, headers={"X-Twilio-Signature": forged})
    receipt = refused(response, 403, "X-Twilio-Signature does not match")
    assert "CallStatus=completed" in receipt.body_excerpt
    WebhookReceipt.objects.all().delete()
    refused(Client().post(path, body, content_type=FORM), 403, "Missing X-Twilio-Signature")
    assert not InboxEvent.objects.exists() and not Call.objects.exists()


def test_it_refuses_a_callback_for_another_twilio_account(connection: ProviderConnection) -> None:
    params = {**fixture("status-callback__caller_ringing"), "AccountSid": "AC" + "0" * 32}
    refused(post(callback_url(connection), params), 403, "is for Twilio account AC000")


def test_it_verifies_a_sharedkey_signature_when_twilio_says_it_signed_with_one(
    connection: ProviderConnection,
) -> None:
    setup = {**SETUP, "auth_token": "", "api_key_sid": "SK" + "1" * 32}
    connection.set_setup_values({**setup, "api_key_secret": "s", "webhook_key": "shared-key"})
    connection.save()
    url, params = callback_url(connection), fixture("status-callback__caller_ringing")
    shared = RequestValidator("shared-key").compute_signature(url, params, "HMAC_SHA256")
    settings_header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    response = Client().post(
        sent_url(url),
        urlencode(params),
        content_type=FORM,
        headers={
            "X-Twilio-Signature": shared,
            "X-Twilio-Webhooks-Signature-Settings": settings_header,
        },
    )
    assert response.status_code == 200
    # The auth token is not saved: a request signed the usual way cannot be checked.
    refused(post(url, params), 403, "has no auth token")


def test_it_refuses_what_twilio_sends_as_form_data_only(connection: ProviderConnection) -> None:
    response = Client().post(
        sent_url(callback_url(connection)), "{}", content_type="application/json"
    )
    refused(response, 415, "Content-Type must be application/x-www-form-urlencoded")


def test_it_notes_an_unreadable_callback_on_the_call_it_was_about(
    connection: ProviderConnection,
) -> None:
    post(callback_url(connection), fixture("status-callback__agent_ringing"))
    bad = {**fixture("status-callback__agent_busy"), "CallStatus": "exploded"}
    response = post(callback_url(connection), bad)
    refused(response, 422, "CallStatus 'exploded' is not one Twilio documents")
    call = Call.objects.get()
    assert "CallStatus 'exploded'" in call.attention
    assert list(calls_needing_attention(Call.objects.all())) == [call]
    (noted,) = [e for e in call_timeline(call=call) if e.title == "call.webhook_refused"]
    assert noted.data["status"] == 422 and "CallStatus=exploded" in noted.data["body"]
    assert InboxEvent.objects.count() == 1  # only the ringing: nothing of the refused one


def test_it_refuses_an_unreadable_callback_of_a_call_it_never_heard_of_without_a_call(
    connection: ProviderConnection,
) -> None:
    bad = {**fixture("status-callback__agent_busy"), "CallStatus": ""}
    refused(post(callback_url(connection), bad), 422, "CallStatus is missing.")
    assert not Call.objects.exists()


def test_it_keeps_a_recording_that_comes_before_the_calls_status_waiting_for_the_end(
    connection: ProviderConnection,
) -> None:
    recording = fixture("recording-status-callback__conversation_completed")
    assert post(callback_url(connection), recording).status_code == 200
    call = Call.objects.get()
    assert call.direction == "inbound" and call.provider_call_id == recording["CallSid"]
    assert InboxEvent.objects.get().link == recording_link(connection, recording["RecordingSid"])


def test_an_error_twilio_meets_later_in_the_call_is_on_the_timeline(
    connection: ProviderConnection,
) -> None:
    """A <Dial> to a number Twilio cannot call fails the leg later, with its error code (13224):
    it comes as a callback, and the timeline shows what Twilio said."""
    params = fixture("status-callback__outbound_failed") | {
        "ErrorCode": "13224",
        "ErrorMessage": "Dial: Twilio does not support calling this number or the number is "
        "invalid",
    }
    assert post(callback_url(connection, outreach_call_id="4711"), params).status_code == 200
    call = Call.objects.get(outreach_call_id="4711")
    [event] = [entry for entry in call_timeline(call=call) if entry.kind == "event"]
    assert "setup_failed" in event.title
    assert event.data["raw"]["params"]["ErrorCode"] == "13224"
