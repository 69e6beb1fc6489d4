"""The CCAI Platform end to end: the portal on gunicorn places reps' calls through the local fake
of the platform's API, the fake's calls change status over time and push session events to the
portal (some lost on the way, a 429 now and then), polling fills in what was lost, and every row
of the final-state table the platform can produce ends in the sandbox Outreach as the table
says, with its links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from calls.models import AgentMapping, Call
from calls.services import agent_mapping_create, calls_poll_providers
from calls.tasks import settle_unconfirmed_dials
from integrations.models import ProviderConnection
from portal.accounts.services import api_token_create
from portal.audit.models import AuditEntry
from portal.tenancy.models import Membership, Role
from tests.conftest import make_user
from tests.dialling.helpers import portal_server
from tests.pipeline.helpers import Pipeline, our_side, refusals, state_of
from tests.providers.ccai.fake import FakeCcai, Step

WEBHOOK_PASSWORD = "ccai_" + "e2e-password-for-the-session-events"
PAT = "+12065550100"
REC = "https://acme.ccaiplatform.com/recordings/{}.mp3"


@dataclass
class Ccai:
    pipeline: Pipeline
    fake: FakeCcai
    connection: ProviderConnection
    web: str
    token: str

    def dial(self, to: str = PAT) -> tuple[str, httpx.Response]:
        call_id = str(self.pipeline.sandbox.launch_call(self.pipeline.rep_outreach_id, to)["id"])
        answer = httpx.post(
            f"{self.web}/api/v1/dial",
            json={"source": "outreach", "callId": call_id, "phoneNumber": to},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        return call_id, answer

    def wait(self, done: dict[str, tuple[str, dict[str, str]]], *, timeout: float = 90) -> None:
        """Poll as beat does, until each Outreach call has its state and links."""
        deadline = time.monotonic() + timeout
        pending = dict(done)
        while pending:
            calls_poll_providers()
            settle_unconfirmed_dials()
            for call_id, (state, links) in list(pending.items()):
                view = self.pipeline.sandbox.call(call_id)
                attributes = view["call"]["attributes"]
                if state_of(view) == state and all(
                    attributes.get(k) == v for k, v in links.items()
                ):
                    del pending[call_id]
            if time.monotonic() > deadline:
                details = {
                    call_id: (
                        self.pipeline.sandbox.call(call_id)["call"]["attributes"],
                        our_side(call_id),
                    )
                    for call_id in pending
                }
                raise AssertionError(f"not there in time: {details}")
            time.sleep(0.3)


@pytest.fixture
def ccai(pipeline: Pipeline) -> Iterator[Ccai]:
    with FakeCcai().running() as fake:
        connection = ProviderConnection(
            organization=pipeline.organization,
            kind="ccai",
            name="Acme CCAI",
            webhook_secrets=WEBHOOK_PASSWORD,
            places_calls=True,
        )
        connection.set_setup_values(fake.setup_values())
        connection.save()
        rita = make_user("rita@alice.example")
        Membership.objects.create(organization=pipeline.organization, user=rita, role=Role.MEMBER)
        # Rita's agent at the platform: her email (what the dial API takes) and her agent id
        # (what an inbound call object's agent_info gives).
        AgentMapping.objects.filter(value="rita@pbx.example").update(
            user=rita, value="rita@acme.example"
        )
        agent_mapping_create(
            organization=pipeline.organization,
            kind="id",
            value="7",
            outreach_user_id=str(pipeline.rep_outreach_id),
        )
        _, token = api_token_create(
            user=rita, organization=pipeline.organization, name="Chrome", lifetime_days=None
        )
        with portal_server(CCAI_API_URL=fake.api_url_template) as web:
            fake.webhook_url = f"{web}/hooks/ccai/{connection.webhook_token}/"
            fake.webhook_auth = ("callbridge", WEBHOOK_PASSWORD)
            yield Ccai(pipeline, fake, connection, web, token)


@pytest.fixture(autouse=True)
def fake_url(settings: object, ccai: Ccai) -> None:
    # This process polls (as beat's task would, on a worker): it reaches the same fake.
    settings.CCAI_API_URL = ccai.fake.api_url_template  # type: ignore[attr-defined]


def connected() -> dict[str, str]:
    return {"connected_at": "now"}


def ended(**fields: str) -> dict[str, str]:
    return {"ends_at": "now", **fields}


def test_every_row_the_platform_can_produce_ends_in_outreach_as_the_table_says(
    ccai: Ccai,
) -> None:
    fake = ccai.fake
    fake.throttle_every = 9  # a 429 now and then
    expected: dict[str, tuple[str, dict[str, str]]] = {}

    # Outbound, placed through the dial API: each call's life, then what Outreach must have.
    outbound = {
        "answered": (
            [
                Step(0.3, "connecting"),
                Step(0.3, "connected", connected()),
                Step(0.5, "finished", ended(recording_url=REC.format("out"))),
            ],
            ("completed", {"recordingUrl": REC.format("out")}),
        ),
        "busy": (
            [Step(0.3, "connecting"), Step(0.5, "failed", ended(fail_reason="eu_busy"))],
            ("busy", {}),
        ),
        "rejected, its events lost": (
            [
                Step(0.3, "connecting", pushed=False),
                Step(0.5, "failed", ended(fail_reason="eu_rejected"), pushed=False),
            ],
            ("busy", {}),
        ),
        "times out": ([Step(0.5, "failed", ended(fail_reason="expired"))], ("no answer", {})),
        "fails to set up": ([Step(0.5, "failed", ended(fail_reason="nothing"))], ("failed", {})),
    }
    placed: dict[str, str] = {}  # Outreach call id -> the platform's
    for name, (steps, outcome) in outbound.items():
        call_id, answer = ccai.dial()
        assert answer.status_code == 201, (name, answer.text)
        provider_call_id = answer.json()["providerCallId"]
        fake.play(provider_call_id, steps, end_user=PAT)
        expected[call_id] = outcome
        assert Call.objects.get(outreach_call_id=call_id).provider_call_id == provider_call_id
        placed[call_id] = provider_call_id

    # A refusal: no call placed, Outreach hears failed and the rep the reason.
    fake.answer_next(400, {"message": "Agent is not available to take this call"})
    refused, answer = ccai.dial()
    assert (answer.status_code, answer.json()["error"]) == (
        422,
        "The CCAI Platform says agent rita@acme.example is not available to take this call: set "
        "yourself available in the CCAI Platform adapter, then call again.",
    )
    expected[refused] = ("failed", {})
    failed = AuditEntry.objects.get(
        action="dial.failed", target_id=str(Call.objects.get(outreach_call_id=refused).pk)
    )
    assert failed.data["provider_answer"] == (
        'HTTP 400 {"message": "Agent is not available to take this call"}'
    )

    # Inbound: end users call the contact centre and the platform offers each to agent 7
    # (Rita), who takes or misses it: a call no agent was offered has no Outreach user.
    inbound = {
        "answered": (
            [
                Step(0.2, "queued", {"queued_at": "now"}),
                Step(0.3, "assigned", {"assigned_at": "now"}),
                Step(0.3, "connected", connected()),
                Step(0.5, "finished", ended(recording_url=REC.format("in"))),
            ],
            ("completed", {"recordingUrl": REC.format("in")}),
        ),
        "caller hangs up": (
            [
                Step(0.2, "queued", {"queued_at": "now"}),
                Step(0.3, "assigned", {"assigned_at": "now"}),
                Step(0.5, "failed", ended(fail_reason="eu_abandoned")),
            ],
            ("canceled", {}),
        ),
        "times out, voicemail": (
            [
                Step(0.2, "queued", {"queued_at": "now"}),
                Step(0.3, "assigned", {"assigned_at": "now"}),
                Step(0.3, "deflected", ended()),
                Step(0.3, "voicemail"),
                Step(0.5, "voicemail_received", ended(recording_url=REC.format("vm"))),
            ],
            ("no answer", {"voicemailRecordingUrl": REC.format("vm")}),
        ),
        "fails to set up": (
            [
                Step(0.2, "queued", {"queued_at": "now"}),
                Step(0.3, "assigned", {"assigned_at": "now"}),
                Step(0.5, "failed", ended(fail_reason="nothing")),
            ],
            ("failed", {}),
        ),
    }
    inbound_ids = {}
    for number, (steps, outcome) in enumerate(inbound.values(), start=1):
        provider_call_id = fake.call_in(agent_id=7)
        fake.play(provider_call_id, steps, end_user=f"+1415555010{number}")
        inbound_ids[provider_call_id] = outcome

    def inbound_created() -> bool:
        return Call.objects.filter(provider_call_id__in=inbound_ids).exclude(
            outreach_call_id=""
        ).count() == len(inbound_ids)

    deadline = time.monotonic() + 60
    while not inbound_created():
        calls_poll_providers()
        assert time.monotonic() < deadline, [
            our_side(c.outreach_call_id) for c in Call.objects.all()
        ]
        time.sleep(0.3)
    for provider_call_id, outcome in inbound_ids.items():
        expected[Call.objects.get(provider_call_id=provider_call_id).outreach_call_id] = outcome

    ccai.wait(expected)
    assert refusals(ccai.pipeline.sandbox) == []
    # Outreach keeps the platform's call id of every call it created as its vendorCallId.
    for call_id, provider_call_id in placed.items():
        attributes = ccai.pipeline.sandbox.call(call_id)["call"]["attributes"]
        assert attributes["vendorCallId"] == provider_call_id
    # Nothing dialled twice: one request per dial that reached the platform.
    assert len(fake.placed) == len(outbound)
    # Inbound calls were created with both numbers: the caller's from the session events.
    created = Call.objects.get(provider_call_id=next(iter(inbound_ids)))
    assert (created.from_number, created.to_number) == ("+14155550101", "+13392195276")


def test_a_202_waits_for_the_agent_in_the_widget_and_finds_the_call(ccai: Ccai) -> None:
    fake = ccai.fake
    fake.answer_next(202)
    call_id, answer = ccai.dial()
    assert answer.status_code == 202
    assert answer.json()["detail"].startswith(
        "The CCAI Platform needs you to finish this call in its widget"
    )
    # The agent chooses the number in the widget: the platform places the call (its own id).
    status, placed, _ = fake._place(
        {
            "call_type": "Voice Outbound (API)",
            "agent_email": "rita@acme.example",
            "end_user_number": PAT,
        }
    )
    assert status == 201
    fake.calls[str(placed["id"])]["agent_info"] = {"id": 7}
    fake.play(
        str(placed["id"]),
        [Step(0.2, "connected", connected()), Step(0.5, "finished", ended())],
        end_user=PAT,
    )
    ccai.wait({call_id: ("completed", {})})
    assert Call.objects.get(outreach_call_id=call_id).provider_call_id == str(placed["id"])
    status = httpx.get(
        f"{ccai.web}/api/v1/dial/{call_id}",
        headers={"Authorization": f"Bearer {ccai.token}"},
        timeout=10,
    ).json()
    assert status["status"] == "placed"


def test_a_202_nobody_finishes_fails_in_outreach_after_the_wait(ccai: Ccai) -> None:
    settings_values = ccai.fake.setup_values(manual_wait_seconds="10")
    ccai.connection.set_setup_values(settings_values)
    ccai.connection.save()
    ccai.fake.answer_next(202)
    call_id, answer = ccai.dial()
    assert answer.status_code == 202
    ccai.wait({call_id: ("failed", {})}, timeout=40)
    assert Call.objects.get(outreach_call_id=call_id).dial_status == "failed"
