"""Placing a rep's call through Finesse's REST API, against the fake Finesse on loopback: the
MAKE_CALL dialog as the rep, with the dial-plan prefix and Outreach's call id in the call
variable, and a reason the rep can act on for each refusal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree

import pytest

from integrations.finesse.provider import FinesseProvider
from integrations.models import ProviderConnection, RepSignIn
from integrations.provider import PlaceCallRequest, Placed, Refused
from portal import clock
from portal.tenancy.models import Organization
from tests.conftest import make_user
from tests.providers.finesse.fake_finesse import Agent, FakeFinesse, fake_finesse

CALL_ID = "91FCF82E-9817-4C73-959F-4CF4A0DB334D"
PASSWORD = "rita-finesse-pw"


@pytest.fixture
def finesse() -> Iterator[FakeFinesse]:
    with fake_finesse() as fake:
        fake.agents["rita01"] = Agent(password=PASSWORD, extension="5068")
        yield fake


@pytest.fixture
def connection(db: None, finesse: FakeFinesse) -> ProviderConnection:
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    connection = ProviderConnection(
        organization=organization, kind="finesse", name="Contact centre", places_calls=True
    )
    connection.set_setup_values(
        {
            "finesse_url": finesse.base_url,
            "dial_prefix": "9",
            "outreach_call_variable": "callVariable10",
        }
    )
    connection.save()
    return connection


def sign_in(connection: ProviderConnection, **values: str) -> int:
    rita = make_user("rita@alice.example")
    saved = RepSignIn(organization=connection.organization, connection=connection, user=rita)
    saved.set_values({"finesse_user": "rita01", "finesse_password": PASSWORD, **values})
    saved.save()
    return rita.pk


def place(connection: ProviderConnection, user_id: int | None, **changes: object):
    request = PlaceCallRequest(
        connection=connection,
        outreach_call_id=CALL_ID,
        to_number="+13125550101",
        agent={"extension": "5068"},
        rep_user_id=user_id,
        **changes,  # type: ignore[arg-type]
    )
    deadline = clock.now() + timedelta(seconds=5)
    return FinesseProvider().place_call(request, deadline=deadline, idempotency_key=CALL_ID)


def test_it_makes_the_call_as_the_rep_with_the_prefix_and_outreachs_call_id(
    connection: ProviderConnection, finesse: FakeFinesse
) -> None:
    assert place(connection, sign_in(connection)) == Placed(provider_call_id="")
    ((method, path, body),) = finesse.requests
    assert (method, path) == ("POST", "/finesse/api/User/rita01/Dialogs")
    sent = ElementTree.fromstring(body)
    assert (sent.tag, sent.findtext("requestedAction")) == ("Dialog", "MAKE_CALL")
    assert (sent.findtext("fromAddress"), sent.findtext("toAddress")) == ("5068", "913125550101")
    variable = sent.find("mediaProperties/callvariables/CallVariable")
    assert variable is not None
    assert (variable.findtext("name"), variable.findtext("value")) == ("callVariable10", CALL_ID)
    assert finesse.placed().to_address == "913125550101"


def test_it_dials_from_the_extension_the_rep_gave(
    connection: ProviderConnection, finesse: FakeFinesse
) -> None:
    finesse.agents["rita01"].extension = "5070"
    assert place(connection, sign_in(connection, extension="5070")) == Placed(provider_call_id="")


@pytest.mark.parametrize(
    ("arrange", "reason", "permanent"),
    [
        ("no sign-in", "Callbridge has no Finesse sign-in of yours", True),
        (
            "wrong password",
            "Finesse refused your sign-in (user rita01): Authorization Failure",
            True,
        ),
        (
            "another extension",
            "Finesse refused your sign-in (user rita01): Invalid Authorization User Specified",
            True,
        ),
        ("signed out", "Invalid Authorization User Specified", True),
        ("no server address", "has no Finesse server address", True),
        ("unreachable", "Callbridge could not reach Finesse.", False),
    ],
)
def test_it_gives_the_rep_a_reason_for_each_refusal(
    connection: ProviderConnection,
    finesse: FakeFinesse,
    arrange: str,
    reason: str,
    permanent: bool,
) -> None:
    user_id: int | None = sign_in(connection)
    setup = connection.setup_values()
    if arrange == "no sign-in":
        RepSignIn.objects.all().delete()
    elif arrange == "wrong password":
        finesse.agents["rita01"].password = "changed-since"
    elif arrange == "another extension":
        finesse.agents["rita01"].extension = "5099"
    elif arrange == "signed out":
        finesse.agents["rita01"].state = "LOGOUT"
    elif arrange == "no server address":
        setup["finesse_url"] = ""
    elif arrange == "unreachable":
        setup["finesse_url"] = "http://127.0.0.1:9"  # discard: nobody listens
    connection.set_setup_values(setup)
    connection.save()
    outcome = place(connection, user_id)
    assert isinstance(outcome, Refused), outcome
    assert reason in outcome.reason
    assert outcome.permanent is permanent
    assert PASSWORD not in outcome.reason
