"""POST /api/v1/dial through a Twilio connection, against the fake of Twilio's REST API on
loopback: the call placed once, Twilio's refusals read to the rep and failed for Outreach, and a
time-out left unknown, never placed twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from calls.models import AgentMapping, Call, InboxEvent
from calls.selectors import call_timeline
from integrations.models import ProviderConnection
from tests.dialling.helpers import CALL_ID, Dialling
from tests.providers.twilio.fake_api import FakeTwilio, running_twilio
from tests.providers.twilio.phone import SETUP

MESSAGE = {"source": "outreach", "callId": CALL_ID, "phoneNumber": "+1 (312) 555-0147", "ext": "9"}
PROSPECT = "+13125550147"


@pytest.fixture
def twilio(dialling: Dialling, settings: Any) -> Iterator[FakeTwilio]:
    """The organisation places its calls through Twilio; Bob's agent is his Twilio client."""
    AgentMapping.objects.create(
        organization=dialling.cast.org,
        kind="id",
        value="bob",
        outreach_user_id="42",
        user=dialling.cast.bob,
    )
    ProviderConnection.objects.update(places_calls=False)
    connection = ProviderConnection(
        organization=dialling.cast.org, kind="twilio", name="Sales", places_calls=True
    )
    connection.set_setup_values(SETUP)
    connection.save()
    with running_twilio() as fake:
        settings.TWILIO_API_URL = fake.base_url
        yield fake


def happenings(call: Call) -> list[str]:
    return [event.happening for event in InboxEvent.objects.filter(call=call)]


def test_it_places_the_call_through_twilio_once(dialling: Dialling, twilio: FakeTwilio) -> None:
    response = dialling.dial(MESSAGE)
    [created] = twilio.created
    assert (response.status_code, response.json()["status"]) == (201, "placed")
    assert response.json()["providerCallId"] == created.sid
    assert (created.get("To"), created.get("SendDigits")) == (PROSPECT, "ww9")
    assert "to=client%3Abob" in created.get("Url")
    again = dialling.dial(MESSAGE)  # the extension retried
    assert (again.status_code, again.json()["repeat"]) == (200, True)
    assert len(twilio.created) == 1
    assert Call.objects.get().provider_call_id == created.sid


def test_twilios_refusal_reaches_the_rep_and_outreach_gets_failed(
    dialling: Dialling, twilio: FakeTwilio
) -> None:
    twilio.refuse[PROSPECT] = 21215
    response = dialling.dial(MESSAGE)
    reason = (
        f"This Twilio account may not call {PROSPECT}: its Voice Geographic Permissions do not "
        "allow that destination (21215). An admin allows it in Twilio's console."
    )
    assert (response.status_code, response.json()["status"]) == (422, "failed")
    assert response.json()["error"] == reason
    call = Call.objects.get()
    assert happenings(call) == ["dialling", "setup_failed"]
    assert any(reason in entry.title for entry in call_timeline(call=call))


def test_a_time_out_is_waited_out_and_never_placed_twice(
    dialling: Dialling, twilio: FakeTwilio, settings: Any
) -> None:
    settings.DIAL_DEADLINE_SECONDS = 1.0
    twilio.slow[PROSPECT] = 3.0
    response = dialling.dial(MESSAGE)
    assert (response.status_code, response.json()["status"]) == (202, "unconfirmed")
    assert response.json()["detail"].startswith("Twilio did not answer within")
    assert dialling.dial(MESSAGE).json()["repeat"] is True
    assert len(twilio.created) == 1
    assert Call.objects.get().dial_status == "unconfirmed"
