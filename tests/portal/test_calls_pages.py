"""The pages support staff and reps read calls on, and the actions they may take there."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from calls.models import AgentMapping, Call, DeliveryAttempt, InboxEvent
from integrations.models import ProviderConnection
from portal.audit.models import AuditEntry
from tests.conftest import Cast


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def call(cast: Cast) -> Call:
    connection = ProviderConnection.objects.create(
        organization=cast.org, kind="generic", name="PBX"
    )
    call = Call.objects.create(
        organization=cast.org,
        connection=connection,
        direction="inbound",
        provider_call_id="pbx-77",
        status="failed",
        problem="Outreach refused update: bad link",
    )
    InboxEvent.objects.create(
        organization=cast.org,
        connection=connection,
        call=call,
        dedup_key="e1",
        happening="ringing",
        occurred_at="2026-11-23T10:00:00Z",
        status="applied",
        reason="to be reported as ringing",
        raw={"secret_looking": "raw payload"},
    )
    DeliveryAttempt.objects.create(
        organization=cast.org,
        call=call,
        purpose="update",
        attempt=1,
        method="PATCH",
        path="/calls/5",
        request_body={"data": {}},
        status_code=422,
        response_body='{"errors": [{"id": "validationError"}]}',
        outcome="permanent",
        started_at="2026-11-23T10:00:01Z",
        duration_ms=12,
    )
    return call


def test_it_shows_support_the_whole_timeline(cast: Cast, call: Call) -> None:
    page = (
        signed_in(cast.sam)
        .get(reverse("call_detail", kwargs={"org": cast.org.slug, "call_id": call.pk}))
        .content.decode()
    )
    assert "ringing" in page and "Used. Outreach is told the call is “ringing”." in page
    assert "PATCH /calls/5" in page and "422" in page and "validationError" in page
    assert "Outreach refused update: bad link" in page


def test_it_lets_support_replay_a_failed_call_and_audits_it(cast: Cast, call: Call) -> None:
    response = signed_in(cast.sam).post(
        reverse("call_replay", kwargs={"org": cast.org.slug, "call_id": call.pk})
    )
    assert response.status_code == 302
    call.refresh_from_db()
    assert (call.status, call.problem) == ("active", "")
    replay = AuditEntry.objects.get(action="call.replay")
    assert (replay.actor_label, replay.data["status_before"]) == ("sam@example.com", "failed")


def test_it_does_not_let_a_rep_replay(cast: Cast, call: Call) -> None:
    call.owner = cast.bob
    call.save()
    response = signed_in(cast.bob).post(
        reverse("call_replay", kwargs={"org": cast.org.slug, "call_id": call.pk})
    )
    assert response.status_code == 403


def test_it_shows_a_rep_only_their_own_calls(cast: Cast, call: Call) -> None:
    client = signed_in(cast.bob)
    assert (
        "pbx-77"
        not in client.get(reverse("call_list", kwargs={"org": cast.org.slug})).content.decode()
    )
    detail = reverse("call_detail", kwargs={"org": cast.org.slug, "call_id": call.pk})
    assert client.get(detail).status_code == 404
    call.owner = cast.bob
    call.save()
    assert client.get(detail).status_code == 200


def test_it_lists_refused_webhooks_of_the_organisation_only(cast: Cast) -> None:
    mine = ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX")
    theirs = ProviderConnection.objects.create(
        organization=cast.mallory_org, kind="generic", name="Other"
    )
    Client().post(f"/hooks/generic/{mine.webhook_token}/", "{}", content_type="text/plain")
    Client().post(
        f"/hooks/generic/{theirs.webhook_token}/",
        "{}",
        content_type="text/plain",
        headers={"X-Marker": "mallory"},
    )
    Client().post("/hooks/generic/unknown-token/", "{}", content_type="application/json")
    page = (
        signed_in(cast.sam)
        .get(reverse("webhook_receipts", kwargs={"org": cast.org.slug}))
        .content.decode()
    )
    assert page.count("Content-Type must be application/json") == 1
    assert "Other" not in page and "Unknown or disabled connection token" not in page


def test_it_shows_a_new_signing_secret_once_and_rotates_it(cast: Cast) -> None:
    client = signed_in(cast.alice)
    page = client.post(
        reverse("provider_create", kwargs={"org": cast.org.slug}),
        {"kind": "generic", "name": "Our PBX"},
    ).content.decode()
    connection = ProviderConnection.objects.get()
    first = connection.signing_secrets()[0]
    assert first.startswith("whsec_") and first in page
    assert (
        first
        not in client.get(reverse("providers", kwargs={"org": cast.org.slug})).content.decode()
    )
    client.post(
        reverse(
            "provider_rotate_secret", kwargs={"org": cast.org.slug, "connection_id": connection.pk}
        )
    )
    connection.refresh_from_db()
    assert len(connection.signing_secrets()) == 2 and connection.signing_secrets()[1] == first
    client.post(
        reverse(
            "provider_retire_secrets", kwargs={"org": cast.org.slug, "connection_id": connection.pk}
        )
    )
    connection.refresh_from_db()
    assert first not in connection.signing_secrets()


def test_it_maps_an_agent_and_refuses_the_same_identity_twice(cast: Cast) -> None:
    client = signed_in(cast.alice)
    url = reverse("agent_mapping_create", kwargs={"org": cast.org.slug})
    data = {"kind": "email", "value": "rita@pbx.example", "outreach_user": "42"}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data)
    assert again.status_code == 200 and "already mapped" in again.content.decode()


def test_it_maps_an_agent_to_a_member_of_the_organisation_only(cast: Cast) -> None:
    client = signed_in(cast.alice)
    url = reverse("agent_mapping_create", kwargs={"org": cast.org.slug})
    data = {"kind": "email", "value": "bob@pbx.example", "outreach_user": "42"}
    outsider = client.post(url, {**data, "member": str(cast.mallory.pk)})
    assert outsider.status_code == 200 and "Select a valid choice" in outsider.content.decode()
    assert client.post(url, {**data, "member": str(cast.bob.pk)}).status_code == 302
    assert AgentMapping.objects.get().user == cast.bob  # Bob's dials know his agent now


def test_it_explains_why_an_outreach_email_cannot_be_looked_up_yet(cast: Cast) -> None:
    client = signed_in(cast.alice)
    url = reverse("agent_mapping_create", kwargs={"org": cast.org.slug})
    data = {"kind": "email", "value": "rita@pbx.example", "outreach_user": "rita@acme.example"}

    page = client.post(url, data).content.decode()

    assert "Connect the organisation&#x27;s Outreach first" in page
    assert not AgentMapping.objects.exists()


def test_it_shows_the_dashboards_call_figures(cast: Cast, call: Call) -> None:
    page = (
        signed_in(cast.alice)
        .get(reverse("dashboard", kwargs={"org": cast.org.slug}))
        .content.decode()
    )
    assert "1 call" in page and "Needs attention" in page and "pbx-77" in page
