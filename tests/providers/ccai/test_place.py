"""Placing a call through the CCAI Platform's dial API, against the local fake of the API: every
answer the seed documents, the outcome the core gets and the words the rep reads; and the
credential check when a connection is saved."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.ccai.models import CcaiManualDial, CcaiPace
from integrations.ccai.provider import CcaiProvider
from integrations.models import ProviderConnection
from integrations.provider import PlaceCallRequest, Placed, Refused, Unconfirmed
from portal.tenancy.models import Organization
from tests.processes import free_port
from tests.providers.ccai.fake import FakeCcai

AGENT = {"email": "rita@acme.example", "id": "7"}
NUMBER = "+18596579625"


@pytest.fixture
def fake(settings: object) -> Iterator[FakeCcai]:
    with FakeCcai().running() as running:
        settings.CCAI_API_URL = running.api_url_template  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def connection(db: None, fake: FakeCcai) -> ProviderConnection:
    organization = Organization.objects.create(name="Acme", slug="acme")
    found = ProviderConnection(organization=organization, kind="ccai", name="Acme CCAI")
    found.set_setup_values(fake.setup_values())
    found.save()
    return found


def place(connection: ProviderConnection, *, seconds: float = 8.0, **agent: str) -> object:
    request = PlaceCallRequest(
        connection=connection,
        outreach_call_id="4711",
        to_number=NUMBER,
        agent=agent or AGENT,
    )
    return CcaiProvider().place_call(
        request, deadline=timezone.now() + timedelta(seconds=seconds), idempotency_key="4711"
    )


def told(outcome: object) -> object:
    """What the rep reads and whether to try again (the raw answer is for support staff)."""
    return dataclasses.replace(outcome, answer="") if isinstance(outcome, Refused) else outcome


def test_it_places_the_call_with_the_documented_body_and_keeps_its_id(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    assert place(connection) == Placed(provider_call_id="9001")
    assert fake.placed == [
        {
            "call_type": "Voice Outbound (API)",
            "agent_email": "rita@acme.example",
            "end_user_number": NUMBER,
            "lang": "en",
            "outbound_number": "+13392195276",
        }
    ]


def test_it_leaves_the_outbound_number_to_the_platform_when_none_is_set(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    connection.set_setup_values(fake.setup_values(outbound_number="", lang="de"))
    connection.save()
    assert isinstance(place(connection), Placed)
    assert "outbound_number" not in fake.placed[0]
    assert fake.placed[0]["lang"] == "de"


@pytest.mark.parametrize("status", [202, 200])
def test_it_waits_for_the_agent_in_the_widget_after_a_202(
    fake: FakeCcai, connection: ProviderConnection, status: int
) -> None:
    # The seed's 202 has no body; its 200s echo the request (no call id).
    fake.answer_next(status, None if status == 202 else {"call_type": "Voice Outbound (API)"})
    outcome = place(connection)
    assert outcome == Unconfirmed(
        "The CCAI Platform needs you to finish this call in its widget: choose the outbound "
        "number there.",
        wait_seconds=60.0,
    )
    dial = CcaiManualDial.objects.get()
    assert (dial.outreach_call_id, dial.agent_email, dial.end_user_number) == (
        "4711",
        "rita@acme.example",
        NUMBER,
    )


def test_it_says_a_default_outbound_number_avoids_the_widget(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    connection.set_setup_values(fake.setup_values(outbound_number="", manual_wait_seconds="90"))
    connection.save()
    fake.answer_next(202)
    outcome = place(connection)
    assert isinstance(outcome, Unconfirmed) and outcome.wait_seconds == 90.0
    assert "(a default outbound number on the connection avoids this step)" in outcome.reason


SEED_400S = [
    (
        "Agent is not available to take this call",
        "The CCAI Platform says agent rita@acme.example is not available to take this call: set "
        "yourself available in the CCAI Platform adapter, then call again.",
    ),
    (
        "Not a valid agent email",
        "The CCAI Platform knows no agent rita@acme.example: an admin corrects your agent's email "
        "on the Agents page.",
    ),
    (
        "Agent email required",
        "The CCAI Platform got no agent email: an admin adds yours on the Agents page.",
    ),
    (
        "Agent does not have access to make calls",
        "The CCAI Platform does not let agent rita@acme.example make outbound calls: an admin "
        "gives the agent's role outbound calling in the CCAI Platform.",
    ),
    (
        "end_user_number is not well-formed",
        "The CCAI Platform says +18596579625 is not a well-formed number.",
    ),
    ("ticket_id or end_user_number required", "The CCAI Platform got no number to call."),
    ("Contact not found", "The CCAI Platform found no contact to call."),
    (
        "Invalid call type",
        "The CCAI Platform does not accept the call type “Voice Outbound (API)” on this account: "
        "tell Callbridge's support.",
    ),
    (
        "invalid call type - ensure call_type is supported",
        "The CCAI Platform refused the call: invalid call type - ensure call_type is supported",
    ),
    (
        "Missing parameter - check to ensure that the required parameters have been added",
        "The CCAI Platform says a parameter is missing: Missing parameter - check to ensure that "
        "the required parameters have been added",
    ),
    (
        "Language 'fr' is not available",
        "The CCAI Platform does not offer the language “en” set on the connection (Language "
        "'fr' is not available): an admin changes it on the Telephony page.",
    ),
    (
        "Language 'xy' is not found",
        "The CCAI Platform does not offer the language “en” set on the connection (Language "
        "'xy' is not found): an admin changes it on the Telephony page.",
    ),
    ("Something new", "The CCAI Platform refused the call: Something new"),
]


@pytest.mark.parametrize(("message", "reason"), SEED_400S, ids=[m for m, _ in SEED_400S])
def test_it_gives_the_rep_each_documented_refusal_in_words_to_act_on(
    fake: FakeCcai, connection: ProviderConnection, message: str, reason: str
) -> None:
    fake.answer_next(400, {"message": message})
    assert told(place(connection)) == Refused(reason, permanent=True)


def test_it_keeps_the_platforms_answer_for_support_staff(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    fake.answer_next(400, {"message": "Agent is not available to take this call"})
    outcome = place(connection)
    assert isinstance(outcome, Refused)
    assert outcome.answer == 'HTTP 400 {"message": "Agent is not available to take this call"}'


def test_it_names_the_host_for_a_wrong_subdomain(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    connection.set_setup_values(fake.setup_values(subdomain="acmee"))
    connection.save()
    assert told(place(connection)) == Refused(
        f"The CCAI Platform answered 404 at acmee.{fake.domain}: an admin checks the "
        "connection's subdomain and domain on the Telephony page.",
        permanent=True,
    )


@pytest.mark.parametrize("status", [401, 403])
def test_it_sends_the_admin_to_the_credentials_on_401_and_403(
    fake: FakeCcai, connection: ProviderConnection, status: int
) -> None:
    fake.answer_next(status, {"message": "Unauthorized"})
    assert told(place(connection)) == Refused(
        f"The CCAI Platform refused Callbridge's API user and token (HTTP {status}): an admin "
        "updates them on the Telephony page.",
        permanent=True,
    )


def test_it_honours_a_429_for_every_worker(fake: FakeCcai, connection: ProviderConnection) -> None:
    fake.throttle_every = 1
    before = timezone.now()
    assert told(place(connection)) == Refused(
        "The CCAI Platform is limiting requests for now (429, retry after 1 s).", permanent=False
    )
    assert CcaiPace.objects.get().next_free_at >= before + timedelta(seconds=1)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_tries_again_after_a_5xx(
    fake: FakeCcai, connection: ProviderConnection, status: int
) -> None:
    fake.answer_next(status, {"message": "oops"})
    assert told(place(connection)) == Refused(
        f"The CCAI Platform is unavailable for now (HTTP {status}).", permanent=False
    )


def test_it_never_asks_again_after_a_time_out_and_waits_for_the_call(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    fake.answer_next(201, {"id": 1}, delay=3.0)
    outcome = place(connection, seconds=1.0)
    assert isinstance(outcome, Unconfirmed) and outcome.wait_seconds == 60.0
    assert outcome.reason.startswith("The CCAI Platform did not answer the dial request in time")
    assert CcaiManualDial.objects.filter(outreach_call_id="4711").exists()


def test_it_tries_again_when_the_platform_is_unreachable(db: None, settings: object) -> None:
    settings.CCAI_API_URL = "http://{domain}/{subdomain}/apps/api/v1"  # type: ignore[attr-defined]
    organization = Organization.objects.create(name="Acme", slug="acme")
    connection = ProviderConnection(organization=organization, kind="ccai", name="Acme CCAI")
    connection.set_setup_values(
        {
            "subdomain": "acme",
            "domain": f"127.0.0.1:{free_port()}",
            "api_user": "u",
            "api_token": "t",
        }
    )
    connection.save()
    outcome = place(connection)
    assert isinstance(outcome, Refused) and not outcome.permanent
    assert outcome.reason.startswith("Callbridge could not reach the CCAI Platform at acme.")


def test_it_refuses_a_rep_whose_agent_has_no_email(connection: ProviderConnection) -> None:
    outcome = place(connection, id="7")
    assert isinstance(outcome, Refused) and outcome.permanent
    assert "has no email" in outcome.reason


def test_it_recognises_the_call_the_agent_finished_in_the_widget(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    from django.test import RequestFactory

    fake.answer_next(202)
    assert isinstance(place(connection), Unconfirmed)
    call = fake.session_event(_placed_call(fake), end_user=NUMBER)
    call["item"]["participants"].append({"type": "agent", "status": "connected", "user_id": 7})
    request = RequestFactory().post("/hooks/ccai/t/", data=call, content_type="application/json")
    events = CcaiProvider().parse(request, connection)
    assert [e.outreach_call_id for e in events] == ["4711"]
    assert CcaiManualDial.objects.get().provider_call_id == events[0].provider_call_id
    # Another call of the same agent is not that dial's.
    other = fake.session_event(_placed_call(fake), end_user="+12065550100")
    request = RequestFactory().post("/hooks/ccai/t/", data=other, content_type="application/json")
    assert [e.outreach_call_id for e in CcaiProvider().parse(request, connection)] == [""]


def _placed_call(fake: FakeCcai) -> dict:
    status, call, _ = fake._place(
        {"call_type": "Voice Outbound (API)", "agent_email": "x", "end_user_number": NUMBER}
    )
    assert status == 201
    call["agent_info"] = {"id": 7}
    return call


def test_it_checks_the_credentials_when_a_connection_is_saved(fake: FakeCcai, db: None) -> None:
    provider = CcaiProvider()
    provider.check_setup(fake.setup_values())  # the right ones pass
    checks = {
        "api_token": fake.setup_values(api_token="wrong"),
        "subdomain": fake.setup_values(subdomain="acmee"),
        "domain": fake.setup_values(domain=f"127.0.0.1:{free_port()}"),
    }
    for name, values in checks.items():
        with pytest.raises(ValidationError) as caught:
            provider.check_setup(values)
        assert list(caught.value.message_dict) == [name]
    with pytest.raises(ValidationError, match="refused this API user and token \\(HTTP 401\\)"):
        provider.check_setup(checks["api_token"])
