from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from portal.audit.models import AuditEntry
from portal.audit.services import audit_record


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
