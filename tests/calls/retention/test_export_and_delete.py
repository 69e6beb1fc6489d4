"""An organisation's admin takes its data away (a JSON download) or deletes the organisation;
both are recorded in the platform's audit trail, which outlives the organisation."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, DeliveryAttempt, InboxEvent
from calls.retention.services import retention_apply
from integrations.models import ProviderConnection
from integrations.outreach.models import ConnectionKind, OutreachConnection, OutreachOrg
from portal.audit.models import AuditEntry
from portal.audit.services import audit_record
from portal.tenancy.models import Membership, Organization
from tests.calls.retention.test_retention import make_call, old_audit_entry
from tests.conftest import Cast

ACCESS_TOKEN = "outreach-access-token-never-exported"
REFRESH_TOKEN = "outreach-refresh-token-never-exported"
SIGNING_SECRET = "whsec_c2lnbmluZy1zZWNyZXQtbmV2ZXItZXhwb3J0ZWQ="


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def furnish(cast: Cast) -> Call:
    """Alice's organisation with an Outreach connection, a provider connection with a signing
    secret, a call with its events and attempts, and an audit trail; Mallory's has a call too."""
    OutreachOrg.objects.create(organization=cast.org, outreach_org_id="org-guid-1", name="Acme")
    OutreachConnection.objects.create(
        organization=cast.org,
        kind=ConnectionKind.ORGANIZATION,
        outreach_user_id="1",
        outreach_email="olga@acme.example",
        outreach_org_id="org-guid-1",
        access_token=ACCESS_TOKEN,
        refresh_token=REFRESH_TOKEN,
        expires_at=timezone.now() + timedelta(hours=2),
    )
    call = make_call(cast.org, "pbx-1", status="done", days_ago=1)
    ProviderConnection.objects.filter(organization=cast.org).update(webhook_secrets=SIGNING_SECRET)
    make_call(cast.mallory_org, "mallory-secret-call", status="done", days_ago=1)
    audit_record(action="test.configuration", organization=cast.org, actor=cast.alice)
    return call


def export(client: Client, cast: Cast) -> tuple[int, str, str]:
    response = client.get(reverse("organization_export", kwargs={"org": cast.org.slug}))
    body = b"".join(response.streaming_content).decode() if response.streaming else ""
    return response.status_code, response.get("Content-Disposition", ""), body


def test_it_lets_an_admin_download_the_organisations_data_without_secrets(cast: Cast) -> None:
    call = furnish(cast)
    settings_page = signed_in(cast.alice).get(
        reverse("organization_settings", kwargs={"org": cast.org.slug})
    )
    assert reverse("organization_export", kwargs={"org": cast.org.slug}) in (
        settings_page.content.decode()
    )

    status, disposition, body = export(signed_in(cast.alice), cast)

    assert status == 200 and disposition.startswith('attachment; filename="callbridge-alice-co-')
    data = json.loads(body)
    assert data["organization"]["name"] == "Alice & Co"
    assert data["organization"]["call_retention_days"] == 90
    assert {m["user__email"] for m in data["members"]} == {
        "alice@example.com",
        "bob@example.com",
        "sam@example.com",
    }
    assert data["outreach"]["org"]["outreach_org_id"] == "org-guid-1"
    assert data["outreach"]["connections"][0]["outreach_email"] == "olga@acme.example"
    (exported_call,) = data["calls"]
    assert exported_call["provider_call_id"] == call.provider_call_id
    assert [e["raw"] for e in exported_call["events"]] == [{"caller": "+14155550123"}] * 2
    assert exported_call["attempts"][0]["path"] == "/calls/1"
    assert "test.configuration" in {entry["action"] for entry in data["audit"]}
    # Nothing secret, nothing of another tenant.
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, SIGNING_SECRET, "mallory"):
        assert secret not in body
    webhook_token = ProviderConnection.objects.get(organization=cast.org).webhook_token
    assert webhook_token not in body
    # Recorded where platform staff read it, and where it outlives the organisation.
    entry = AuditEntry.objects.get(action="organization.export")
    assert entry.organization_id is None and entry.actor_id == cast.alice.pk
    assert entry.data["organization"] == {
        "id": cast.org.pk,
        "name": "Alice & Co",
        "slug": "alice-co",
    }


def test_it_lets_only_the_organisations_admins_export(cast: Cast) -> None:
    furnish(cast)
    for user, status in ((cast.bob, 403), (cast.sam, 403), (cast.mallory, 404)):
        assert export(signed_in(user), cast)[0] == status
    assert not AuditEntry.objects.filter(action="organization.export").exists()


def test_it_deletes_the_organisation_once_its_admin_confirms(cast: Cast) -> None:
    furnish(cast)
    org_pk = cast.org.pk
    old_entry = old_audit_entry(organization_id=org_pk, days_ago=200)
    alice = signed_in(cast.alice)
    url = reverse("organization_delete", kwargs={"org": cast.org.slug})
    assert signed_in(cast.bob).post(url, {"confirm": "alice-co"}).status_code == 403

    page = alice.get(url).content.decode()
    assert "3 members" in page and "1 call " in page

    mistyped = alice.post(url, {"confirm": "Alice & Co"})
    assert "That is not “alice-co”; nothing was deleted." in mistyped.content.decode()
    assert Organization.objects.filter(pk=org_pk).exists()

    done = alice.post(url, {"confirm": "alice-co"}, follow=True)

    assert "Alice &amp; Co and all its data were deleted." in done.content.decode()
    assert not Organization.objects.filter(pk=org_pk).exists()
    for model in (Membership, OutreachConnection, OutreachOrg, ProviderConnection, Call):
        assert not model.objects.filter(organization_id=org_pk).exists(), model
    assert not InboxEvent.objects.filter(organization_id=org_pk).exists()
    assert not DeliveryAttempt.objects.filter(organization_id=org_pk).exists()
    # Mallory's organisation and everybody's accounts are untouched.
    assert Call.objects.filter(organization=cast.mallory_org).count() == 1
    assert get_user_model().objects.filter(email="bob@example.com").exists()
    # The deletion is in the platform's trail, and the organisation's own entries outlive it.
    deletion = AuditEntry.objects.get(action="organization.delete")
    assert deletion.organization_id is None and deletion.actor_label == "alice@example.com"
    assert deletion.data["organization"]["slug"] == "alice-co"
    assert deletion.data["deleted"]["calls.Call"] == 1
    assert deletion.data["deleted"]["calls.InboxEvent"] == 2
    assert AuditEntry.objects.filter(organization_id=org_pk, action="test.configuration").exists()

    # From now on they expire under the platform's audit retention, not the organisation's.
    with override_settings(RETENTION_PLATFORM_AUDIT_DAYS=100):
        retention_apply()
    assert not AuditEntry.objects.filter(pk=old_entry).exists()
    assert AuditEntry.objects.filter(action="organization.delete").exists()
