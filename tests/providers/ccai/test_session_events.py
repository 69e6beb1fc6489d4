"""Bad input at the session-events door: every refusal names what is wrong, and one about a
known call id says which call, so the door notes it on that call's timeline."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import RequestFactory

from integrations.ccai.provider import CcaiProvider
from integrations.models import ProviderConnection
from integrations.provider import WebhookRejected
from portal.encryption import Secret
from portal.tenancy.models import Organization
from tests.providers.webhook_case import payload_of

pytestmark = pytest.mark.fast


def connection() -> ProviderConnection:
    organization = Organization(name="Acme", slug="acme", default_region="US")
    found = ProviderConnection(organization=organization, kind="ccai", name="CCAI")
    found.webhook_secrets = Secret("ccai_new ccai_old")
    return found


def post(body: object, *, auth: str | None = "callbridge:ccai_new") -> object:
    headers = {}
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return RequestFactory().post(
        "/hooks/ccai/t/", data=json.dumps(body), content_type="application/json", **headers
    )


def refusal(body: object) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        CcaiProvider().parse(post(body), connection())  # type: ignore[arg-type]
    return caught.value


def test_it_refuses_an_event_without_a_call_id() -> None:
    body = payload_of("ccai", "session__inbound_start")
    del body["item"]["call_id"]
    rejected = refusal(body)
    assert (rejected.status, rejected.reason) == (
        422,
        "item.call_id is required (the platform's call id).",
    )


def test_it_keeps_an_undocumented_status_as_unmapped_on_its_call() -> None:
    body = payload_of("ccai", "session__inbound_call_object")
    body["item"]["status"] = "teleported"
    rejected = refusal(body)
    assert rejected.status == 422
    assert rejected.reason == "Unmapped: status 'teleported' is not one the platform documents."
    assert rejected.provider_call_id == "515"


def test_it_keeps_an_undocumented_call_type_or_session_state_unmapped() -> None:
    body = payload_of("ccai", "session__inbound_call_object")
    body["item"]["call_type"] = "Carrier pigeon"
    assert "call_type 'Carrier pigeon'" in refusal(body).reason
    session = payload_of("ccai", "session__inbound_start")
    session["item"]["state"] = "levitating"
    assert refusal(session).reason == (
        "Unmapped: session state 'levitating' is not one the platform documents."
    )


def test_it_refuses_a_voicemail_status_on_an_outbound_call() -> None:
    body = payload_of("ccai", "session__inbound_call_object")
    body["item"]["call_type"] = "Voice Outbound (API)"
    body["item"]["status"] = "voicemail_received"
    assert "documented for inbound calls only" in refusal(body).reason


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "Missing HTTP Basic authorization."),
        ("callbridge:wrong", "Wrong user name or password."),
        ("admin:ccai_new", "Wrong user name or password."),
    ],
)
def test_it_refuses_a_wrong_basic_auth(auth: str | None, reason: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        CcaiProvider().verify(post({}, auth=auth), connection())  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.reason) == (401, reason)


def test_it_accepts_the_new_and_the_old_secret_while_rotating() -> None:
    for password in ("ccai_new", "ccai_old"):
        CcaiProvider().verify(post({}, auth=f"callbridge:{password}"), connection())  # type: ignore[arg-type]


def test_it_refuses_setup_values_that_cannot_work_before_asking_the_platform() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        CcaiProvider().check_setup(
            {
                "subdomain": "acme.ccaiplatform.com",
                "domain": "localhost",
                "api_user": "key",
                "api_token": "t",
                "lang": "english",
                "requests_per_second": "20",
                "manual_wait_seconds": "5",
            }
        )
    assert set(caught.value.message_dict) == {
        "subdomain",
        "domain",
        "lang",
        "requests_per_second",
        "manual_wait_seconds",
    }
