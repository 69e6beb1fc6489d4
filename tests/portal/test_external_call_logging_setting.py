"""An admin chooses, per provider connection, whether calls that did not start in Outreach are
logged there, and what happens to one whose number matches no single prospect."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from integrations.models import ProviderConnection, UnmatchedProspect
from portal.audit.models import AuditEntry
from tests.conftest import Cast


def test_it_lets_an_admin_turn_on_logging_and_choose_to_hold_unmatched_calls(cast: Cast) -> None:
    pbx = ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX")
    assert not pbx.log_external_calls and pbx.unmatched_prospect == UnmatchedProspect.LOG
    url = reverse("provider_edit", kwargs={"org": cast.org.slug, "connection_id": pbx.pk})
    client = Client()
    client.force_login(cast.alice)
    assert "Log calls that did not start in Outreach" in client.get(url).content.decode()

    data = {"name": "PBX", "log_external_calls": "on", "unmatched_prospect": "hold"}
    assert client.post(url, data).status_code == 302
    pbx.refresh_from_db()
    assert pbx.log_external_calls and pbx.unmatched_prospect == UnmatchedProspect.HOLD
    entry = AuditEntry.objects.filter(action="provider.update").latest("id")
    assert entry.data["log_external_calls"] is True

    assert client.post(url, {"name": "PBX"}).status_code == 302  # the box left unticked
    pbx.refresh_from_db()
    assert not pbx.log_external_calls and pbx.unmatched_prospect == UnmatchedProspect.LOG


def test_it_refuses_the_setting_to_support_staff(cast: Cast) -> None:
    pbx = ProviderConnection.objects.create(organization=cast.org, kind="generic", name="PBX")
    url = reverse("provider_edit", kwargs={"org": cast.org.slug, "connection_id": pbx.pk})
    client = Client()
    client.force_login(cast.sam)
    assert client.post(url, {"name": "PBX", "log_external_calls": "on"}).status_code == 403
    pbx.refresh_from_db()
    assert not pbx.log_external_calls
