"""Click-to-dial through Finesse, on real processes: Rita's dial reaches the portal on gunicorn,
which asks the fake Finesse on loopback for a MAKE_CALL as Rita (with her own Finesse sign-in);
the connector relays the dialog's changes back to the webhook; the worker dials Outreach's
extension with SEND_DTMF once the customer answers, and the sandbox Outreach follows the call
to its end. A refusal Finesse reports only afterwards ends `failed` with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from calls.models import AgentMapping, Call
from calls.services import agent_mapping_create
from integrations.models import ProviderConnection, RepSignIn
from portal.accounts.services import api_token_create
from portal.tenancy.models import Membership, Role
from tests.conftest import make_user
from tests.dialling.helpers import portal_server
from tests.pipeline.helpers import Pipeline, eventually, refusals, state_of
from tests.providers.finesse.connector import RELAY_PASSWORD, RELAY_USER, basic_auth
from tests.providers.finesse.fake_finesse import Agent, FakeFinesse, fake_finesse

PROSPECT = "+13125550101"
AGENT_PASSWORD = "rita-finesse-password-9d2"


@dataclass
class FinesseDial:
    pipeline: Pipeline
    web: str
    finesse: FakeFinesse
    token: str

    def launch(self) -> str:
        return str(self.pipeline.sandbox.launch_call(self.pipeline.rep_outreach_id, PROSPECT)["id"])

    def dial(self, call_id: str, ext: str = "") -> httpx.Response:
        body = {"source": "outreach", "callId": call_id, "phoneNumber": "+1 (312) 555-0101"}
        return httpx.post(
            f"{self.web}/api/v1/dial",
            json={**body, "ext": ext} if ext else body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )


@pytest.fixture
def flow(pipeline: Pipeline) -> Iterator[FinesseDial]:
    rita = make_user("rita@alice.example")
    Membership.objects.create(organization=pipeline.organization, user=rita, role=Role.MEMBER)
    AgentMapping.objects.filter(value="rita@pbx.example").update(user=rita)
    agent_mapping_create(
        organization=pipeline.organization,
        kind="extension",
        value="5068",
        outreach_user_id=str(pipeline.rep_outreach_id),
    )
    _, token = api_token_create(
        user=rita, organization=pipeline.organization, name="Chrome", lifetime_days=None
    )
    with fake_finesse() as finesse, portal_server() as web:
        finesse.agents["rita01"] = Agent(password=AGENT_PASSWORD, extension="5068")
        pipeline.provider.places_calls = False
        pipeline.provider.save()
        connection = ProviderConnection(
            organization=pipeline.organization,
            kind="finesse",
            name="Contact centre",
            places_calls=True,
        )
        connection.set_setup_values(
            {
                "finesse_url": finesse.base_url,
                "dial_prefix": "9",
                "outreach_call_variable": "callVariable10",
                "basic_username": RELAY_USER,
                "basic_password": RELAY_PASSWORD,
            }
        )
        connection.save()
        sign_in = RepSignIn(organization=pipeline.organization, connection=connection, user=rita)
        sign_in.set_values({"finesse_user": "rita01", "finesse_password": AGENT_PASSWORD})
        sign_in.save()
        finesse.relay_url = f"{web}/hooks/finesse/{connection.webhook_token}/"
        finesse.relay_auth = basic_auth()
        yield FinesseDial(pipeline, web, finesse, token)


def test_it_places_the_call_as_the_rep_and_dials_the_extension_once_answered(
    flow: FinesseDial,
) -> None:
    call_id = flow.launch()
    answer = flow.dial(call_id, ext="1234")
    assert (answer.status_code, answer.json()["status"]) == (201, "placed"), answer.text
    dialog = flow.finesse.placed()
    assert (dialog.from_address, dialog.to_address) == ("5068", "913125550101")
    assert dialog.variables == {"callVariable10": call_id}
    view = flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "initiated", timeout=10)
    assert view["launch"]["initiatedWithin5s"] is True

    flow.finesse.ring(dialog)
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "ringing")
    assert dialog.dtmf == []  # not while it rings: Finesse refuses DTMF on an alerting call
    flow.finesse.answer(dialog)
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "in progress")
    eventually(lambda: dialog.dtmf == ["1234"], timeout=30)  # the worker, as Rita
    flow.finesse.hang_up(dialog)
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "completed")

    assert set(flow.finesse.relayed) == {200}
    call = Call.objects.get(outreach_call_id=call_id)
    assert call.provider_call_id == f"152995-{dialog.id}"  # the connector's events found it
    assert refusals(flow.pipeline.sandbox) == []


def test_a_refusal_finesse_reports_afterwards_ends_failed_with_its_reason(
    flow: FinesseDial,
) -> None:
    flow.finesse.agents["rita01"].state = "TALKING"  # on another call: Finesse fails this one
    call_id = flow.launch()
    answer = flow.dial(call_id)
    assert (answer.status_code, answer.json()["status"]) == (201, "placed")  # 202 from Finesse
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "failed")
    call = Call.objects.get(outreach_call_id=call_id)
    failed = call.events.get(happening="setup_failed")
    assert "Finesse could not set up the call" in str(failed.raw["notes"])
    assert AGENT_PASSWORD not in str(failed.raw)


def test_a_sign_in_finesse_refuses_ends_failed_with_the_reason_for_the_rep(
    flow: FinesseDial,
) -> None:
    flow.finesse.agents["rita01"].password = "changed-in-finesse"
    call_id = flow.launch()
    answer = flow.dial(call_id)
    body: dict[str, Any] = answer.json()
    assert (answer.status_code, body["status"]) == (422, "failed")
    assert "Finesse refused your sign-in (user rita01)" in body["error"]
    flow.pipeline.wait_for(call_id, lambda v: state_of(v) == "failed")
    assert flow.finesse.dialogs == {}
