"""Writing to the audit trail: one function, used by every part of the product; and the one
way old entries leave it (retention)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import connection, models, transaction

from portal.audit.models import AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model, QuerySet

    from portal.tenancy.models import Organization


def audit_record(**fields: Any) -> AuditEntry:
    """Append one entry (see `audit_entry` for the fields)."""
    entry = audit_entry(**fields)
    entry.save()
    return entry


def audit_entry(
    *,
    action: str,
    organization: Organization | None = None,
    actor: User | None = None,
    target: Model | None = None,
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """An entry not yet saved, for writing many at once with `bulk_create`. `data` must never
    hold a secret: it is shown to support staff."""
    actor_id = getattr(actor, "pk", None)
    return AuditEntry(
        organization_id=organization.pk if organization else None,
        organization_label=_fit("organization_label", organization.name if organization else ""),
        actor_id=actor_id,
        actor_label=_fit("actor_label", getattr(actor, "email", "") if actor_id else "system"),
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=_fit(
            "target_label", target_label or (str(target) if target is not None else "")
        ),
        data=data or {},
    )


def _fit(field: str, label: str) -> str:
    """A label cut to its column, marked with an ellipsis: labels come from what people typed
    (an email address, a provider's call id), and a label too long for PostgreSQL's column must
    not lose the entry, nor fail the change it records."""
    column = AuditEntry._meta.get_field(field)
    # Every *_label column is a CharField with a max_length.
    assert isinstance(column, models.CharField) and column.max_length is not None
    limit = column.max_length
    return label if len(label) <= limit else label[: limit - 1] + "…"


def audit_entries_expire(*, entries: QuerySet[AuditEntry], limit: int) -> int:
    """Delete up to `limit` of `entries`, oldest first, in one short transaction: the only
    deletion the trail allows (retention's). On PostgreSQL the append-only trigger lets it
    through because this transaction says it is retention, and only for entries older than the
    minimum retention (migrations/0003). Returns how many were deleted."""
    ids = list(entries.order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return 0
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    placeholders = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL callbridge.retention = 'on'")
        # The queryset refuses delete() for everybody else; this is raw SQL on purpose.
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({placeholders})", ids)  # noqa: S608
        return cursor.rowcount
