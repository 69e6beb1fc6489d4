"""Setting Twilio up: the account, a way to check Twilio's signatures, and the numbers it serves
with the agent each rings, refused with a reason on the Telephony page when they cannot work."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from integrations.events import AgentIdentity
from integrations.models import ProviderConnection
from integrations.twilio.addresses import CONNECTION_OVERRIDES
from integrations.twilio.provider import TwilioProvider
from integrations.twilio.setup import read_setup, setup_problems
from tests.conftest import Cast
from tests.providers.twilio.phone import ACCOUNT_SID, AUTH_TOKEN, SETUP

KEY_SID = "SK" + "ab" * 16


@pytest.mark.fast
@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({**SETUP, "account_sid": "AC123"}, "account_sid", "AC followed by 32"),
        ({"account_sid": ACCOUNT_SID}, "auth_token", "auth token, or an API key"),
        ({**SETUP, "api_key_sid": KEY_SID}, "api_key_secret", "both its SID and its secret"),
        ({**SETUP, "api_key_sid": "SK1", "api_key_secret": "x"}, "api_key_sid", "SK followed"),
        (
            {"account_sid": ACCOUNT_SID, "api_key_sid": KEY_SID, "api_key_secret": "x"},
            "webhook_key",
            "SharedKey of a Webhook Setting",
        ),
        ({**SETUP, "numbers": "206 555 0100=client:rita"}, "numbers", "with the country code"),
        ({**SETUP, "numbers": "+12065550100"}, "numbers", "is not a number and its agent"),
        ({**SETUP, "numbers": "+12065550100=rita"}, "numbers", "'rita', is not a phone number"),
        (
            {**SETUP, "numbers": "+12065550100=client:a, +1 206 555 0100=client:b"},
            "numbers",
            "+12065550100 is listed twice",
        ),
        ({**SETUP, "caller_id": "555 0100"}, "caller_id", "with its country code"),
        ({**SETUP, "leg_order": "agent"}, "leg_order", "Write prospect or rep."),
        ({**SETUP, "record_calls": "always"}, "record_calls", "Write yes or no."),
        ({**SETUP, "machine_detection": "on"}, "machine_detection", "Write yes or no."),
        ({**SETUP, "calls_per_second": "0"}, "calls_per_second", "1 or more"),
    ],
)
def test_it_says_why_setup_values_cannot_work(values: dict, field: str, reason: str) -> None:
    problems = setup_problems(values)
    assert reason in problems[field], problems
    with pytest.raises(ValidationError):
        TwilioProvider().check_setup(values)


@pytest.mark.fast
def test_it_places_calls_prospect_first_without_recording_or_detection_by_default() -> None:
    setup = read_setup(SETUP)
    assert (setup.calls_from, setup.leg_order) == ("+12065550100", "prospect")
    assert (setup.record_calls, setup.machine_detection, setup.calls_per_second) == (
        False,
        False,
        1,
    )
    chosen = read_setup({**SETUP, "caller_id": "+1 206 555 0188", "leg_order": "rep",
                         "record_calls": "Yes", "calls_per_second": "5"})  # fmt: skip
    assert (chosen.calls_from, chosen.leg_order, chosen.record_calls) == (
        "+12065550188",
        "rep",
        True,
    )
    assert chosen.calls_per_second == 5


@pytest.mark.fast
def test_it_takes_an_auth_token_or_an_api_key_with_a_webhook_key() -> None:
    assert setup_problems(SETUP) == {}
    with_key = {"api_key_sid": KEY_SID, "api_key_secret": "x", "webhook_key": "shared"}
    assert setup_problems({"account_sid": ACCOUNT_SID, **with_key}) == {}


@pytest.mark.fast
def test_it_reads_the_numbers_and_the_agents_they_ring() -> None:
    setup = read_setup(
        {
            **SETUP,
            "numbers": "+1 206 555 0100 = client:rita; +12065550101=+1 415 555 0199,\n"
            "+442071838750=sip:sam@pbx.example.com",
        }
    )
    assert setup.agents == {
        "+12065550100": "client:rita",
        "+12065550101": "+1 415 555 0199",
        "+442071838750": "sip:sam@pbx.example.com",
    }
    assert setup.agent_of("+12065550100") == AgentIdentity(id="rita")
    assert setup.agent_of("+12065550101") == AgentIdentity(phone="+14155550199")
    assert setup.agent_of("+19999999999") == AgentIdentity()


def page_form(cast: Cast) -> Client:
    client = Client()
    client.force_login(cast.alice)
    return client


def test_it_creates_a_twilio_connection_and_shows_the_url_to_give_twilio(cast: Cast) -> None:
    client = page_form(cast)
    form = client.get(reverse("providers", kwargs={"org": cast.org.slug}), {"kind": "twilio"})
    assert 'type="password" name="setup_auth_token"' in form.content.decode()
    response = client.post(
        reverse("provider_create", kwargs={"org": cast.org.slug}),
        {
            "kind": "twilio",
            "name": "Sales line",
            "setup_account_sid": ACCOUNT_SID,
            "setup_auth_token": AUTH_TOKEN,
            "setup_numbers": "+12065550100=client:rita",
        },
        follow=True,
    )
    page = response.content.decode()
    connection = ProviderConnection.objects.get(kind="twilio")
    assert connection.setup_values()["auth_token"] == AUTH_TOKEN
    assert AUTH_TOKEN not in page
    shown = f"/hooks/twilio/{connection.webhook_token}/#{CONNECTION_OVERRIDES}"
    assert shown.replace("&", "&amp;") in page
    assert "New secret" not in page  # Twilio signs with its own credentials


def test_it_refuses_numbers_that_are_not_phone_numbers_on_the_page(cast: Cast) -> None:
    response = page_form(cast).post(
        reverse("provider_create", kwargs={"org": cast.org.slug}),
        {
            "kind": "twilio",
            "name": "Sales line",
            "setup_account_sid": ACCOUNT_SID,
            "setup_auth_token": AUTH_TOKEN,
            "setup_numbers": "sales=client:rita",
        },
    )
    assert response.status_code == 200
    assert (
        "&#x27;sales=client:rita&#x27; is not a number and its agent" in response.content.decode()
    )
    assert not ProviderConnection.objects.exists()


def test_it_keeps_the_saved_auth_token_when_an_edit_leaves_it_blank(cast: Cast) -> None:
    connection = ProviderConnection(organization=cast.org, kind="twilio", name="Sales line")
    connection.set_setup_values(SETUP)
    connection.save()
    url = reverse("provider_edit", kwargs={"org": cast.org.slug, "connection_id": connection.pk})
    response = page_form(cast).post(
        url,
        {"name": "Sales line", "setup_account_sid": ACCOUNT_SID, "setup_numbers": ""},
    )
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.setup_values()["auth_token"] == AUTH_TOKEN
    assert connection.setup_values()["numbers"] == ""
