from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEntry
from portal.audit.services import audit_record
from portal.tenancy.models import Invitation, Role
from tests.conftest import Cast


def test_it_refuses_a_raw_sql_update_of_the_audit_trail(db: None) -> None:
    entry = audit_record(action="test.entry", data={"n": 1})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditentry SET action = 'forged' WHERE id = %s", [entry.pk]
            )
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.entry"


def test_it_refuses_a_raw_sql_delete_of_the_audit_trail(db: None) -> None:
    entry = audit_record(action="test.entry")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_refuses_changes_through_the_orm(db: None) -> None:
    entry = audit_record(action="test.entry")
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()


def test_it_cuts_a_label_too_long_for_its_column_instead_of_failing(cast: Cast) -> None:
    # 214 characters: a valid address, longer than the audit trail's 200-character label.
    email = "dora.long.name@" + ".".join(["a" * 63, "b" * 63, "c" * 63]) + ".example"
    alice = Client()
    alice.force_login(cast.alice)

    response = alice.post(
        reverse("invitation_create", kwargs={"org": cast.org.slug}),
        {"email": email, "role": Role.MEMBER},
    )

    assert response.status_code == 302
    assert Invitation.objects.get(organization=cast.org).email == email
    entry = AuditEntry.objects.get(action="invitation.create")
    assert len(entry.target_label) == 200
    assert entry.target_label == email[:199] + "…"
