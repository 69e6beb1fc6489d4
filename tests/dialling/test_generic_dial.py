"""The generic provider placing calls, against a fake phone system on loopback
(outreach_sandbox.phone) that checks the Standard Webhooks signature with its own code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.generic.provider import GenericProvider
from integrations.models import ProviderConnection
from integrations.provider import Capability, Placed, Refused, Unconfirmed
from outreach_sandbox.phone import PhoneSystem, running_phone
from portal.encryption import Secret
from tests.conftest import Cast
from tests.dialling.helpers import CALL_ID, NEW_SECRET, OLD_SECRET, place
from tests.processes import free_port


@pytest.fixture
def phone() -> Iterator[tuple[PhoneSystem, str]]:
    with running_phone(PhoneSystem(auto_events=())) as running:
        yield running


def connection_to(cast: Cast, dial_url: str, *secrets: str) -> ProviderConnection:
    connection = ProviderConnection(
        organization=cast.org,
        kind="generic",
        name="Office PBX",
        webhook_secrets=Secret(" ".join(secrets or (NEW_SECRET,))),
    )
    connection.set_setup_values({"dial_url": dial_url} if dial_url else {})
    connection.save()
    return connection


def test_it_declares_the_place_call_capability() -> None:
    assert GenericProvider.supports(Capability.PLACE_CALL)
    assert not GenericProvider.supports(Capability.FETCH_CALL_STATE)


def test_it_signs_with_every_secret_so_a_phone_on_the_old_one_still_verifies(
    cast: Cast, phone: tuple[PhoneSystem, str]
) -> None:
    system, url = phone
    system.set_up(webhook_url="", secrets=[OLD_SECRET])  # not switched to the new secret yet
    connection = connection_to(cast, f"{url}/dial", NEW_SECRET, OLD_SECRET)

    assert place(connection) == Placed(provider_call_id="ps-1")

    [dial] = system.dials
    assert dial.signature_ok and dial.message_id == f"dial_{CALL_ID}"
    assert dial.body == {
        "type": "dial",
        "outreach_call_id": CALL_ID,
        "to": "+12065550100",
        "extension": "1234",
        "agent": {"email": "rita@pbx.example", "extension": "201"},
        "deadline": dial.body["deadline"],
    }
    assert system.calls["ps-1"].extension == "1234"


def test_it_asks_again_with_the_same_webhook_id_so_the_phone_places_one_call(
    cast: Cast, phone: tuple[PhoneSystem, str]
) -> None:
    system, url = phone
    system.set_up(webhook_url="", secrets=[NEW_SECRET])
    connection = connection_to(cast, f"{url}/dial")
    assert place(connection) == place(connection) == Placed(provider_call_id="ps-1")
    assert [d.status for d in system.dials] == [201, 200] and len(system.calls) == 1


def test_a_phone_with_another_secret_refuses_the_signature(
    cast: Cast, phone: tuple[PhoneSystem, str]
) -> None:
    system, url = phone
    system.set_up(webhook_url="", secrets=[OLD_SECRET])
    outcome = place(connection_to(cast, f"{url}/dial", NEW_SECRET))
    assert outcome == Refused(
        "Your phone system refused the call: no signature matches the signing secret",
        permanent=True,
    )
    assert system.dials[0].signature_ok is False and not system.calls


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            404,
            {"error": "agent rita@pbx.example is not logged in"},
            Refused(
                "Your phone system refused the call: agent rita@pbx.example is not logged in",
                permanent=True,
            ),
        ),
        (422, None, Refused("Your phone system refused the call: HTTP 422", permanent=True)),
        (
            503,
            {"error": "trunk down"},
            Refused("Your phone system is unavailable for now (trunk down).", permanent=False),
        ),
        (
            429,
            None,
            Refused("Your phone system is unavailable for now (HTTP 429).", permanent=False),
        ),
        (202, None, Placed(provider_call_id="ps-1")),
    ],
)
def test_it_reads_the_phones_answers(
    cast: Cast,
    phone: tuple[PhoneSystem, str],
    status: int,
    body: dict[str, str] | None,
    expected: object,
) -> None:
    system, url = phone
    system.set_up(webhook_url="", secrets=[NEW_SECRET])
    system.answer_next(status, body)
    assert place(connection_to(cast, f"{url}/dial")) == expected


def test_a_time_out_leaves_the_outcome_unconfirmed(
    cast: Cast, phone: tuple[PhoneSystem, str]
) -> None:
    system, url = phone
    system.set_up(webhook_url="", secrets=[NEW_SECRET])
    system.answer_next(201, None, delay=2.0)
    assert place(connection_to(cast, f"{url}/dial"), seconds=0.5) == Unconfirmed(
        "Your phone system did not answer the dial request within 0.5 s."
    )


def test_an_unreachable_phone_is_a_transient_refusal(cast: Cast) -> None:
    outcome = place(connection_to(cast, f"http://127.0.0.1:{free_port()}/dial"))
    assert outcome == Refused(
        "Callbridge could not reach your phone system's dial URL.", permanent=False
    )


def test_a_connection_without_a_dial_url_refuses_saying_what_to_do(cast: Cast) -> None:
    outcome = place(connection_to(cast, ""))
    assert isinstance(outcome, Refused) and outcome.permanent
    assert outcome.reason == (
        "“Office PBX” has no dial URL: an admin gives your phone system's dial URL on the "
        "Telephony page."
    )
