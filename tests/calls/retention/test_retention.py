"""Retention as an organisation's admin sets it and as beat runs it, on PostgreSQL with the audit
trail's append-only trigger in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from calls.models import Call, CallStatus, DeliveryAttempt, InboxEvent
from calls.retention import services
from calls.retention.tasks import apply_retention
from integrations.models import ProviderCallAlias, ProviderConnection, WebhookReceipt
from portal.audit.models import AuditEntry
from portal.tenancy.models import Organization
from tests.conftest import Cast


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def settings_form(organization: Organization, **changes: object) -> dict[str, object]:
    fields = (
        "name",
        "default_region",
        "settle_seconds",
        "give_up_hours",
        "call_retention_days",
        "audit_retention_days",
    )
    return {**{name: getattr(organization, name) for name in fields}, **changes}


def make_call(
    organization: Organization, name: str, *, status: str, days_ago: float, events: int = 2
) -> Call:
    pbx, _ = ProviderConnection.objects.get_or_create(
        organization=organization, kind="generic", name="PBX"
    )
    call = Call.objects.create(
        organization=organization,
        connection=pbx,
        direction="inbound",
        provider_call_id=name,
        status=status,
    )
    last_heard = timezone.now() - timedelta(days=days_ago)
    Call.objects.filter(pk=call.pk).update(created=last_heard, last_event_at=last_heard)
    for n in range(events):
        InboxEvent.objects.create(
            organization=organization,
            connection=pbx,
            call=call,
            dedup_key=f"{name}-{n}",
            happening="ringing",
            occurred_at=last_heard,
            raw={"caller": "+14155550123"},
        )
    DeliveryAttempt.objects.create(
        organization=organization,
        call=call,
        purpose="update",
        attempt=1,
        method="PATCH",
        path="/calls/1",
        started_at=last_heard,
    )
    return call


def old_audit_entry(*, organization_id: int | None, days_ago: int, action: str = "test.old") -> int:
    """An entry written `days_ago` (INSERT is allowed; created cannot be set through the ORM)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditentry (created, organization_id, organization_label, "
            "actor_id, actor_label, action, target_type, target_id, target_label, data) "
            "VALUES (now() - %s * interval '1 day', %s, '', NULL, 'system', %s, '', '', '', "
            "'{}') RETURNING id",
            [days_ago, organization_id, action],
        )
        return cursor.fetchone()[0]


def test_it_lets_an_admin_choose_how_long_calls_and_the_audit_trail_are_kept(cast: Cast) -> None:
    alice = signed_in(cast.alice)
    url = reverse("organization_settings", kwargs={"org": cast.org.slug})
    page = alice.get(url).content.decode()
    assert "Keep finished calls (days)" in page and "Keep the audit trail (days)" in page

    too_short = alice.post(url, settings_form(cast.org, audit_retention_days=7))
    assert "greater than or equal to 30" in too_short.content.decode()

    alice.post(url, settings_form(cast.org, call_retention_days=30, audit_retention_days=60))
    cast.org.refresh_from_db()
    assert (cast.org.call_retention_days, cast.org.audit_retention_days) == (30, 60)
    change = AuditEntry.objects.get(action="organization.update")
    assert change.data["changes"]["call_retention_days"] == [90, 30]


def test_it_deletes_only_finished_calls_past_their_organisations_retention(cast: Cast) -> None:
    cast.org.call_retention_days = 30
    cast.org.save()
    gone = [
        make_call(cast.org, "done-40", status=CallStatus.DONE, days_ago=40),
        make_call(cast.org, "failed-40", status=CallStatus.FAILED, days_ago=40),
    ]
    kept = [
        make_call(cast.org, "done-10", status=CallStatus.DONE, days_ago=10),
        make_call(cast.org, "held-400", status=CallStatus.HELD, days_ago=400),
        make_call(cast.org, "active-40", status=CallStatus.ACTIVE, days_ago=40),
        make_call(cast.mallory_org, "mallory-done-40", status=CallStatus.DONE, days_ago=40),
    ]

    apply_retention.apply()  # what beat runs

    assert set(Call.objects.values_list("pk", flat=True)) == {call.pk for call in kept}
    assert not InboxEvent.objects.filter(call_id__in=[call.pk for call in gone]).exists()
    assert not DeliveryAttempt.objects.filter(call_id__in=[call.pk for call in gone]).exists()
    sam = signed_in(cast.sam)
    for call in gone:
        detail = reverse("call_detail", kwargs={"org": cast.org.slug, "call_id": call.pk})
        assert sam.get(detail).status_code == 404
    run = AuditEntry.objects.get(action="retention.run")
    assert run.organization_id is None and run.actor_label == "system"
    assert run.data["deleted"] == {
        "calls.Call": 2,
        "calls.InboxEvent": 4,
        "calls.DeliveryAttempt": 2,
    }
    assert run.data["organizations"] == {str(cast.org.pk): run.data["deleted"]}
    assert run.data["unfinished"] == []


def test_it_lets_only_retention_delete_and_only_old_audit_entries(cast: Cast) -> None:
    cast.org.audit_retention_days = 60
    cast.org.save()
    alices_old = old_audit_entry(organization_id=cast.org.pk, days_ago=100)
    alices_recent = old_audit_entry(organization_id=cast.org.pk, days_ago=40)
    mallorys_old = old_audit_entry(organization_id=cast.mallory_org.pk, days_ago=100)
    platform_old = old_audit_entry(organization_id=None, days_ago=400)
    of_a_deleted_organisation = old_audit_entry(organization_id=987654, days_ago=400)
    platform_recent = old_audit_entry(organization_id=None, days_ago=100)

    young = old_audit_entry(organization_id=None, days_ago=5)
    # The application still cannot delete an old entry...
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [alices_old])
    # ...and even retention cannot delete a young entry, nor change any.
    for statement, entry in (
        ("DELETE FROM audit_auditentry WHERE id = %s", young),
        ("UPDATE audit_auditentry SET action = 'forged' WHERE id = %s", alices_old),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL callbridge.retention = 'on'")
                cursor.execute(statement, [entry])

    services.retention_apply()

    remaining = set(AuditEntry.objects.values_list("pk", flat=True))
    assert {alices_recent, mallorys_old, platform_recent, young} <= remaining
    assert not {alices_old, platform_old, of_a_deleted_organisation} & remaining
    run = AuditEntry.objects.get(action="retention.run")
    assert run.data["deleted"] == {"audit.AuditEntry": 3}
    assert run.data["organizations"] == {str(cast.org.pk): {"audit.AuditEntry": 1}}


def test_it_deletes_old_refused_webhook_records_and_expired_sessions(cast: Cast) -> None:
    now = timezone.now()
    old, recent = (
        WebhookReceipt.objects.create(provider="generic", status=404, reason="unknown token")
        for _ in range(2)
    )
    WebhookReceipt.objects.filter(pk=old.pk).update(
        received_at=now - timedelta(days=settings.RETENTION_WEBHOOK_RECEIPT_DAYS + 1)
    )
    Session.objects.create(session_key="expired", session_data="", expire_date=now)
    Session.objects.create(
        session_key="current", session_data="", expire_date=now + timedelta(days=1)
    )

    services.retention_apply(now=now + timedelta(seconds=1))

    assert list(WebhookReceipt.objects.values_list("pk", flat=True)) == [recent.pk]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["current"]
    assert AuditEntry.objects.get(action="retention.run").data["deleted"] == {
        "integrations.WebhookReceipt": 1,
        "sessions.Session": 1,
    }


def test_it_works_off_a_backlog_in_batches_over_several_runs(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    monkeypatch.setattr(services, "MAX_BATCHES", 2)
    for n in range(7):
        make_call(cast.org, f"old-{n}", status=CallStatus.DONE, days_ago=200, events=1)

    first = services.retention_apply()
    assert first["calls.Call"] == 4 and Call.objects.count() == 3
    second = services.retention_apply()
    assert second["calls.Call"] == 3 and not Call.objects.exists()

    runs = AuditEntry.objects.filter(action="retention.run").order_by("id")
    assert [run.data["unfinished"] for run in runs] == [
        [f"calls of organisation {cast.org.pk}"],
        [],
    ]


def test_it_audits_what_a_run_deleted_before_an_error_stopped_it(cast: Cast) -> None:
    make_call(cast.org, "done-200", status=CallStatus.DONE, days_ago=200)

    # A misconfigured platform setting stops the run after the organisations' batches committed.
    with override_settings(RETENTION_WEBHOOK_RECEIPT_DAYS="fourteen"):
        with pytest.raises(TypeError):
            services.retention_apply()

    assert not Call.objects.exists()
    run = AuditEntry.objects.get(action="retention.run")
    assert run.data["error"] == "TypeError"
    assert run.data["deleted"]["calls.Call"] == 1


def test_it_forgets_the_other_ids_of_calls_no_longer_reconciled(cast: Cast) -> None:
    now = timezone.now()
    connection = ProviderConnection.objects.create(organization=cast.org, kind="finesse", name="CC")
    old, recent = (
        ProviderCallAlias.objects.create(
            connection=connection, provider_call_id="152995-3", alias=alias
        )
        for alias in ("16786700", "16786701")
    )
    ProviderCallAlias.objects.filter(pk=old.pk).update(
        seen_at=now - timedelta(days=services.CALL_ALIAS_DAYS + 1)
    )

    services.retention_apply(now=now + timedelta(seconds=1))

    assert list(ProviderCallAlias.objects.values_list("pk", flat=True)) == [recent.pk]
