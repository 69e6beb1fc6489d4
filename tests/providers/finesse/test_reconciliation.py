"""Asking Finesse about a call the connector went quiet about: its dialog, read with the
connection's reader sign-in from the fake Finesse, becomes the events the connector would have
carried; a dialog Finesse no longer knows leaves the call to the give-up path."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from calls.inbox import inbox_accept
from calls.models import Call
from calls.services import call_ask_provider
from integrations.finesse.client import make_call_xml
from integrations.finesse.provider import FinesseProvider
from integrations.models import ProviderConnection
from portal.audit.models import AuditEntry
from portal.tenancy.models import Organization
from tests.providers.finesse.fake_finesse import Agent, FakeFinesse, fake_finesse


@pytest.fixture
def finesse() -> Iterator[FakeFinesse]:
    with fake_finesse() as fake:
        fake.agents["rita01"] = Agent(password="rita-pw", extension="5068")
        fake.agents["admin"] = Agent(password="reader-pw", extension="")
        fake.administrators.add("admin")
        yield fake


@pytest.fixture
def connection(db: None, finesse: FakeFinesse) -> ProviderConnection:
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    connection = ProviderConnection(organization=organization, kind="finesse", name="CC")
    connection.set_setup_values(
        {"finesse_url": finesse.base_url, "reader_user": "admin", "reader_password": "reader-pw"}
    )
    connection.save()
    return connection


def quiet_call(finesse: FakeFinesse, connection: ProviderConnection) -> Call:
    """Rita's call to 913125550101: the connector told us it rang, then nothing more."""
    auth = "Basic " + base64.b64encode(b"rita01:rita-pw").decode()
    xml = make_call_xml(from_address="5068", to_address="913125550101", variables={})
    assert finesse.handle("POST", "/finesse/api/User/rita01/Dialogs", auth, xml)[0] == 202
    dialog = finesse.placed()
    finesse.ring(dialog)
    envelope = {
        "channel": "Cisco",
        "topic": "OutboundCall",
        "subtopic": "OutBoundCallStateChange",
        "data": {"call": {"ResponseActual": {"dialog": finesse.dialog_json(dialog)}}},
    }
    inbox_accept(connection=connection, events=FinesseProvider().events_of(envelope, connection))
    return Call.objects.get()


def asked(call: Call) -> str:
    entry = AuditEntry.objects.filter(action="call.provider_asked").latest("pk")
    return entry.data["answer"]


def test_it_reads_the_calls_dialog_from_finesse_as_the_connector_would_have_told_it(
    finesse: FakeFinesse, connection: ProviderConnection
) -> None:
    call = quiet_call(finesse, connection)
    dialog = finesse.placed()
    finesse.answer(dialog)
    finesse.hang_up(dialog)  # the connector's messages about both were lost
    call_ask_provider(call=call)
    assert asked(call) == "1 event(s)"  # the dropped dialog, its agent wrapping up: ended
    assert sorted(call.events.values_list("happening", flat=True)) == ["ended", "ringing"]
    assert ("GET", f"/finesse/api/Dialog/{dialog.id}", "") in finesse.requests


def test_it_leaves_a_dialog_finesse_forgot_to_the_give_up_path(
    finesse: FakeFinesse, connection: ProviderConnection
) -> None:
    call = quiet_call(finesse, connection)
    finesse.forget(finesse.placed())
    call_ask_provider(call=call)
    assert asked(call) == "0 event(s)"  # ended, outcome unknown: closed when Callbridge gives up
    assert list(call.events.values_list("happening", flat=True)) == ["ringing"]


def test_it_cannot_say_without_a_reader_sign_in_or_while_finesse_is_away(
    finesse: FakeFinesse, connection: ProviderConnection
) -> None:
    call = quiet_call(finesse, connection)
    setup = connection.setup_values()
    connection.set_setup_values({**setup, "finesse_url": "http://127.0.0.1:9"})
    connection.save()
    call_ask_provider(call=call)
    assert asked(call) == "unknown"
    connection.set_setup_values({**setup, "reader_password": ""})
    connection.save()
    assert FinesseProvider().fetch_call_state(connection, call.provider_call_id) is None
