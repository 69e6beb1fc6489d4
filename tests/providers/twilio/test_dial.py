"""Twilio placing a call, against the fake of its REST API on loopback: the request Twilio gets in
each leg order, its refusals in words a rep can act on, a time-out left unconfirmed (never sent
again), and the account's calls-per-second limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.models import ProviderConnection
from integrations.provider import Capability, PlaceCallRequest, Placed, Refused, Unconfirmed
from integrations.twilio.addresses import CONNECTION_OVERRIDES
from integrations.twilio.provider import TwilioProvider
from portal import clock
from tests.conftest import Cast
from tests.providers.twilio.fake_api import FakeTwilio, running_twilio
from tests.providers.twilio.phone import ACCOUNT_SID, OUR_NUMBER, SETUP

PROSPECT = "+13125550147"
CALL_ID = "91FCF82E-9817-4C73-959F-4CF4A0DB334D"
RITA = {"id": "rita", "email": "rita@alice.example"}


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    with running_twilio() as fake:
        settings.TWILIO_API_URL = fake.base_url
        yield fake


def connection_of(cast: Cast, **setup: str) -> ProviderConnection:
    connection = ProviderConnection(organization=cast.org, kind="twilio", name="Sales")
    connection.set_setup_values({**SETUP, **setup})
    connection.save()
    return connection


def place(
    connection: ProviderConnection,
    *,
    to: str = PROSPECT,
    seconds: float = 5.0,
    agent: dict[str, str] | None = None,
    extension: str = "1234",
    call_id: str = CALL_ID,
) -> Placed | Refused | Unconfirmed:
    return TwilioProvider().place_call(
        PlaceCallRequest(
            connection=connection,
            outreach_call_id=call_id,
            to_number=to,
            extension=extension,
            agent=RITA if agent is None else agent,
        ),
        deadline=clock.now() + timedelta(seconds=seconds),
        idempotency_key=call_id,
    )


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_it_declares_both_capabilities() -> None:
    assert TwilioProvider.supports(Capability.PLACE_CALL)
    assert TwilioProvider.supports(Capability.FETCH_CALL_STATE)


def test_it_rings_the_prospect_first_with_our_callbacks_and_the_extension(
    cast: Cast, twilio: FakeTwilio
) -> None:
    connection = connection_of(cast)
    outcome = place(connection)
    [created] = twilio.created
    assert outcome == Placed(provider_call_id=created.sid)
    assert created.auth == (ACCOUNT_SID, SETUP["auth_token"])
    assert (created.get("To"), created.get("From")) == (PROSPECT, OUR_NUMBER)
    assert created.get("SendDigits") == "ww1234"
    assert created.all("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    status_callback = created.get("StatusCallback")
    assert status_callback == connection.webhook_url(outreach_call_id=CALL_ID)
    assert status_callback.endswith(f"#{CONNECTION_OVERRIDES}")
    assert query_of(created.get("Url")) == {
        "step": "connect-rep",
        "outreach_call_id": CALL_ID,
        "to": "client:rita",
    }
    # Off by default: detection costs the prospect seconds of silence and changes nothing in
    # Outreach; recording is the organisation's choice.
    assert not created.get("MachineDetection") and not created.get("Record")


def test_it_records_and_detects_machines_when_the_organisation_says_so(
    cast: Cast, twilio: FakeTwilio
) -> None:
    connection = connection_of(cast, record_calls="yes", machine_detection="yes")
    place(connection)
    [created] = twilio.created
    assert (created.get("Record"), created.get("MachineDetection")) == ("true", "Enable")
    assert created.get("RecordingStatusCallback") == created.get("StatusCallback")


def test_it_rings_the_rep_first_when_the_organisation_says_so(
    cast: Cast, twilio: FakeTwilio
) -> None:
    connection = connection_of(cast, leg_order="rep", caller_id="+12065550188")
    place(connection, agent={"phone": "+14155550199"})
    [created] = twilio.created
    assert (created.get("To"), created.get("From")) == ("+14155550199", "+12065550188")
    assert query_of(created.get("StatusCallback")) == {"outreach_call_id": CALL_ID, "leg": "rep"}
    assert query_of(created.get("Url")) == {
        "step": "connect-prospect",
        "outreach_call_id": CALL_ID,
        "to": PROSPECT,
        "ext": "1234",
    }
    assert not created.get("SendDigits")  # the prospect's <Number> sends them


@pytest.mark.parametrize(
    ("code", "reason", "permanent"),
    [
        (
            21211,
            f"Twilio says {PROSPECT} is not a valid phone number (21211).",
            True,
        ),
        (21214, f"Twilio cannot reach {PROSPECT} (21214).", True),
        (
            21215,
            f"This Twilio account may not call {PROSPECT}: its Voice Geographic Permissions "
            "do not allow that destination (21215). An admin allows it in Twilio's console.",
            True,
        ),
        (20503, "Twilio is unavailable for now: Service Unavailable (20503).", False),
        (20429, "Twilio is unavailable for now: Too Many Requests (20429).", False),
    ],
)
def test_it_gives_twilios_refusals_in_words_a_rep_can_act_on(
    cast: Cast, twilio: FakeTwilio, code: int, reason: str, permanent: bool
) -> None:
    twilio.refuse[PROSPECT] = code
    assert place(connection_of(cast)) == Refused(reason, permanent=permanent)


def test_it_says_the_credentials_are_wrong_without_showing_them(
    cast: Cast, twilio: FakeTwilio
) -> None:
    outcome = place(connection_of(cast, auth_token="0" * 32))
    assert outcome == Refused(
        "Twilio refused this connection's credentials (20003): an admin checks the Account SID "
        "and the auth token or API key on the Telephony page.",
        permanent=True,
    )
    assert "0" * 32 not in outcome.reason


def test_it_uses_the_api_key_when_the_connection_has_one(cast: Cast, twilio: FakeTwilio) -> None:
    key = ("SK" + "1" * 32, "key-secret")
    twilio.credentials.add(key)
    connection = connection_of(cast, api_key_sid=key[0], api_key_secret=key[1])
    assert isinstance(place(connection), Placed)
    assert twilio.created[0].auth == key


def test_a_500_may_have_placed_the_call_so_it_is_unconfirmed(
    cast: Cast, twilio: FakeTwilio
) -> None:
    twilio.refuse[PROSPECT] = 20500
    assert place(connection_of(cast)) == Unconfirmed(
        "Twilio answered HTTP 500: it may have placed the call."
    )


def test_a_time_out_is_unconfirmed(cast: Cast, twilio: FakeTwilio) -> None:
    twilio.slow[PROSPECT] = 2.0
    connection = connection_of(cast, calls_per_second="100")  # no wait for a slot
    assert place(connection, seconds=0.5) == Unconfirmed("Twilio did not answer within 0.5 s.")


def test_a_rep_twilio_cannot_ring_is_told_what_to_ask_for(cast: Cast, twilio: FakeTwilio) -> None:
    outcome = place(connection_of(cast), agent={"email": "rita@alice.example"})
    assert isinstance(outcome, Refused) and outcome.permanent
    assert "names no Twilio client identity or phone number" in outcome.reason
    assert twilio.created == []


def test_it_keeps_to_the_accounts_calls_per_second(cast: Cast, twilio: FakeTwilio) -> None:
    connection = connection_of(cast, calls_per_second="2")
    outcomes = [place(connection, call_id=f"call-{n}") for n in range(4)]
    assert all(isinstance(outcome, Placed) for outcome in outcomes)
    times = [created.at for created in twilio.created]
    # No more than 2 in any one second: the 1st and 3rd are (nearly) a second apart.
    assert times[2] - times[0] >= 0.9
    assert time.monotonic() - times[0] < 5
