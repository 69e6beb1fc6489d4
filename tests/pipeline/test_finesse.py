"""Cisco Finesse end to end: every row of the seed's final-state table the connector can
produce, inbound and outbound, as the connector's events cut from the seed - each call's
shuffled, one sent twice, calls interleaved - relayed with HTTP Basic credentials through the
real webhook URL on a real gunicorn, to the sandbox Outreach through the real worker; campaign
calls too. The agent's password the connector sends is then nowhere: not in the database, the
processes' logs or the call's timeline page."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.apps import apps
from django.db import connection as database
from django.test import Client
from django.urls import reverse

from calls.models import Call
from calls.services import agent_mapping_create
from integrations.models import ProviderConnection, WebhookReceipt
from portal.tenancy.models import Membership
from tests.pipeline.helpers import Pipeline, eventually, refusals
from tests.processes import child_process_environment, free_port, running, wait_for_http
from tests.providers.finesse.connector import (
    AGENT_PASSWORD,
    RELAY_PASSWORD,
    RELAY_USER,
    SEED_PASSWORD,
    basic_auth,
    body,
    connector_event,
    dialog_of,
)

OWN = "outbound_agent"
# (direction, the table's "Result", the connector's events in the order they happen, the
# final state): every row the connector can produce. It reports no voicemail link, so the
# inbound "... and voicemail picks up" rows are not among them; on an agent's own outbound call
# a voicemail picking up is the customer's side answering.
ROWS = [
    (
        "outbound",
        "answered by the callee",
        ["INITIATED__" + OWN, "ALERTING__" + OWN, "ACTIVE__" + OWN, "WRAP_UP__" + OWN],
        "completed",
    ),
    (
        "outbound",
        "caller cancels before anyone picks up",
        ["INITIATED__" + OWN, "ALERTING__" + OWN, "DROPPED__outbound_agent_gave_up"],
        "canceled",
    ),
    (
        "outbound",
        "fails to set up",
        ["INITIATED__" + OWN, "FAILED__outbound_agent_bad_destination"],
        "failed",
    ),
    (
        "outbound",
        "callee rejects",
        ["INITIATED__" + OWN, "ALERTING__" + OWN, "FAILED__outbound_agent_busy"],
        "busy",
    ),
    (
        "outbound",
        "callee rejects and voicemail picks up",
        [
            "INITIATED__" + OWN,
            "ALERTING__" + OWN,
            "ACTIVE__" + OWN,
            "DROPPED__outbound_agent_customer_hung_up",
        ],
        "completed",
    ),
    (
        "outbound",
        "times out",
        ["INITIATED__" + OWN, "ALERTING__" + OWN, "DROPPED__outbound_agent_rang_out"],
        "no answer",
    ),
    (
        "outbound",
        "times out and voicemail picks up",
        ["INITIATING__" + OWN, "ALERTING__" + OWN, "HELD__" + OWN, "WRAP_UP__" + OWN],
        "completed",
    ),
    (
        "inbound",
        "answered by the callee",
        ["ALERTING__inbound", "ACTIVE__inbound", "WRAP_UP__inbound"],
        "completed",
    ),
    (
        "inbound",
        "caller cancels before anyone picks up",
        ["ALERTING__inbound", "DROPPED__inbound_caller_hung_up"],
        "canceled",
    ),
    ("inbound", "fails to set up", ["FAILED__inbound_other"], "failed"),
    ("inbound", "user rejects", ["ALERTING__inbound", "FAILED__inbound_busy"], "busy"),
    ("inbound", "times out", ["ALERTING__inbound", "DROPPED__inbound_rang_out"], "no answer"),
]
# Campaign calls of the Outbound Option dialer: no Outreach call id (issue 17 logs them).
CAMPAIGN = [
    (
        "a person answered (the seed)",
        ["ACTIVE__outbound_campaign_seed", "DROPPED__outbound_campaign_answered"],
        "answered",
    ),
    (
        "an answering machine answered",
        ["ACTIVE__outbound_campaign_answering_machine", "DROPPED__outbound_campaign_answered"],
        "answered_by_voicemail",
    ),
]


@dataclass
class ConnectorCall:
    key: int  # callKeyCallId
    direction: str
    final_state: str
    events: list[dict[str, Any]] = field(default_factory=list)
    outreach_call_id: str = ""

    @property
    def provider_call_id(self) -> str:
        return f"152995-{self.key}"


@pytest.fixture
def finesse(pipeline: Pipeline) -> ProviderConnection:
    """Alice's contact centre: the relay's Basic credentials, Outreach's call id in
    callVariable10, and Rita's agent device (extension 5068) mapped to her Outreach user."""
    connection = ProviderConnection(
        organization=pipeline.organization, kind="finesse", name="Contact centre"
    )
    connection.set_setup_values(
        {
            "basic_username": RELAY_USER,
            "basic_password": RELAY_PASSWORD,
            "outreach_call_variable": "callVariable10",
            "dial_prefix": "9",
        }
    )
    connection.save()
    agent_mapping_create(
        organization=pipeline.organization,
        kind="extension",
        value="5068",
        outreach_user_id=str(pipeline.rep_outreach_id),
    )
    return connection


@pytest.fixture
def gunicorn(pipeline: Pipeline) -> Iterator[tuple[str, Path]]:
    """gunicorn as the `web` fixture starts it, its log kept to read afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_process_environment(PUBLIC_BASE_URL=base)
    command = ["gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with running(command, env=env) as process:
        wait_for_http(f"{base}/healthz", process=process)
        yield base, Path(getattr(process, "log_path"))  # noqa: B009 - set by running()


def planned(
    key: int,
    direction: str,
    fixtures: list[str],
    final: str,
    start: datetime,
    *,
    outreach_call_id: str = "",
) -> ConnectorCall:
    call = ConnectorCall(
        key=key, direction=direction, final_state=final, outreach_call_id=outreach_call_id
    )
    number = f"415555{key:04d}" if direction == "inbound" else f"9312555{key:04d}"
    for second, fixture in enumerate(fixtures):
        call.events.append(
            connector_event(
                fixture,
                at=start + timedelta(seconds=7 * second),
                call=key,
                number=number,
                outreach_call_id=call.outreach_call_id,
                # The seed's own password on its own event, a distinctive one on the others.
                password=SEED_PASSWORD if "seed" in fixture else AGENT_PASSWORD,
            )
        )
    return call


def relay(base: str, connection: ProviderConnection, payload: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{base}/hooks/finesse/{connection.webhook_token}/",
        content=body(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": basic_auth()},
    )


def test_it_ends_every_row_the_connector_can_produce_as_the_table_says(
    pipeline: Pipeline, finesse: ProviderConnection, gunicorn: tuple[str, Path], worker: Any
) -> None:
    base, web_log = gunicorn
    # Campaign calls did not start in Outreach: this connection logs them there once they end.
    ProviderConnection.objects.filter(pk=finesse.pk).update(log_external_calls=True)
    rng = random.Random(19)
    start = datetime.now(UTC) - timedelta(minutes=3)
    calls = []
    for index, (direction, _, fixtures, final) in enumerate(ROWS, start=1):
        ids = {}
        if direction == "outbound":
            launched = pipeline.sandbox.launch_call(
                pipeline.rep_outreach_id, f"+1312555{index:04d}"
            )
            ids["outreach_call_id"] = str(launched["id"])
        calls.append(planned(100 + index, direction, fixtures, final, start, **ids))
    campaign = [
        planned(200 + index, "outbound", fixtures, "completed", start)
        for index, (_, fixtures, _) in enumerate(CAMPAIGN, start=1)
    ]
    arrivals = []
    for call in [*calls, *campaign]:
        events = [*call.events, rng.choice(call.events)]  # one sent twice
        rng.shuffle(events)
        arrivals.extend(events)
    rng.shuffle(arrivals)  # calls interleave, as on a busy contact centre
    for payload in arrivals:
        answer = relay(base, finesse, payload)
        assert answer.status_code == 200, answer.text
    # And one the door refuses: an unreadable time, kept for support without the password.
    broken = connector_event("ACTIVE__" + OWN, at=start, call=999)
    dialog_of(broken)["CallStateChangeTime"] = "yesterday 06h39"
    assert relay(base, finesse, broken).status_code == 422

    keys = [call.provider_call_id for call in calls]
    eventually(
        lambda: Call.objects.filter(provider_call_id__in=keys, status="done").count() == len(keys),
        timeout=90,
    )
    wrong = {}
    for call, (direction, result, _, _) in zip(calls, ROWS, strict=True):
        ours = Call.objects.get(provider_call_id=call.provider_call_id)
        attributes = pipeline.sandbox.call(ours.outreach_call_id)["call"]["attributes"]
        if (attributes["direction"], attributes["state"]) != (direction, call.final_state):
            wrong[f"{direction}: {result}"] = (attributes["direction"], attributes["state"])
    assert wrong == {}
    assert refusals(pipeline.sandbox) == []
    creates = [
        r
        for r in pipeline.sandbox.requests(path_prefix="/api/v2")
        if r["method"] == "POST" and r["path"] == "/api/v2/calls"
    ]
    # Campaign calls: outbound, no Outreach call id, the dialer's machine answered_by_voicemail;
    # each is logged in Outreach once, as an answered outbound call of the mapped rep.
    for call, (_, _, answered) in zip(campaign, CAMPAIGN, strict=True):
        eventually(partial(is_logged, call.provider_call_id))
        ours = Call.objects.get(provider_call_id=call.provider_call_id)
        assert ours.direction == "outbound" and ours.final_state == "completed"
        assert {event.normalised["outreach_call_id"] for event in ours.events.all()} == {""}
        assert sorted(ours.events.values_list("happening", flat=True)) == sorted(
            [answered, "ended"]
        )
        logged = pipeline.sandbox.call(ours.outreach_call_id)["call"]
        assert (logged["attributes"]["direction"], logged["attributes"]["outcome"]) == (
            "outbound",
            "Answered",
        )
        assert logged["relationships"]["user"]["data"]["id"] == pipeline.rep_outreach_id
    creates = [
        r
        for r in pipeline.sandbox.requests(path_prefix="/api/v2")
        if r["method"] == "POST" and r["path"] == "/api/v2/calls"
    ]
    inbound = sum(1 for call in calls if call.direction == "inbound")
    assert len(creates) == inbound + len(campaign)  # nothing created or logged twice

    worker_log = Path(getattr(worker, "log_path"))  # noqa: B009 - set by running()
    assert_password_nowhere(pipeline, web_log=web_log, worker_log=worker_log)


def is_logged(provider_call_id: str) -> bool:
    return Call.objects.filter(provider_call_id=provider_call_id, logged_at__isnull=False).exists()


def assert_password_nowhere(pipeline: Pipeline, *, web_log: Path, worker_log: Path) -> None:
    """Neither the distinctive password nor the seed's ("12345", as a whole value) is in any
    row of any table, in gunicorn's or the worker's log, or on a call's timeline page."""
    assert WebhookReceipt.objects.filter(status=422).exists()  # the refused body was kept
    seed_values = tuple(
        f"{quote}{SEED_PASSWORD}{quote}" for quote in ('"', "'", "&quot;", "&#x27;", "&#39;")
    )
    found = []
    with database.cursor() as cursor:
        for model in apps.get_models():
            table = model._meta.db_table
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
            for (row,) in cursor.fetchall():
                if AGENT_PASSWORD in row or any(value in row for value in seed_values):
                    found.append(f"{table}: {row[:300]}")
    assert found == []
    for log in (web_log, worker_log):
        assert AGENT_PASSWORD not in log.read_text(errors="replace"), log
    admin = Membership.objects.get(organization=pipeline.organization).user
    client = Client()
    client.force_login(admin)
    seed_call = Call.objects.get(provider_call_id="152995-201")
    for call in (seed_call, Call.objects.get(provider_call_id="152995-101")):
        page = client.get(
            reverse("call_detail", kwargs={"org": pipeline.organization.slug, "call_id": call.pk})
        ).content.decode()
        # The raw payload is shown, pretty-printed JSON, without the secret.
        assert "&quot;password&quot;: &quot;(removed" in page
        assert AGENT_PASSWORD not in page
        assert not any(value in page for value in seed_values)
