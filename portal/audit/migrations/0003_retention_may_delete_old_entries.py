"""Retention is the one path that may delete audit entries, and only old ones.

The application stays unable to UPDATE or DELETE the trail. Retention (retention/services.py,
through portal.audit.services.audit_entries_expire) marks its own transaction with
`SET LOCAL callbridge.retention = 'on'`, which ends with that transaction; even then the trigger
refuses an UPDATE, and a DELETE of an entry younger than the minimum retention any organisation
may choose (portal.tenancy.models.MINIMUM_AUDIT_RETENTION_DAYS, 30 days) less a day of margin
for the application's and the database's clocks, so a mistake in retention cannot erase recent
history, nor the record of its own run.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# portal.tenancy.models.MINIMUM_AUDIT_RETENTION_DAYS (30) less a day for clock differences.
YOUNGEST_DELETABLE_DAYS = 29

RETENTION_MAY_DELETE = f"""
CREATE OR REPLACE FUNCTION audit_entry_is_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('callbridge.retention', true) = 'on'
       AND OLD.created < now() - interval '{YOUNGEST_DELETABLE_DAYS} days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_auditentry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""

NOTHING_MAY_DELETE = """
CREATE OR REPLACE FUNCTION audit_entry_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditentry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def _on_postgresql(sql: str):
    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [
        migrations.RunPython(
            _on_postgresql(RETENTION_MAY_DELETE), _on_postgresql(NOTHING_MAY_DELETE)
        )
    ]
