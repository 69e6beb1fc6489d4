"""How long data is kept, and an organisation leaving with its data.

Every table that grows with traffic has an end. Per organisation (its *Settings* page): finished
calls (done or failed) with their inbox events and delivery attempts, after `call_retention_days`
from their last event; its audit entries after `audit_retention_days`. Platform-wide (settings):
refused-webhook records, audit entries of no organisation or of one that was deleted, and expired
sessions. A call still in progress or held is never deleted, however old: its events are what the
pipeline plans from.

Beat runs `retention_apply` hourly. Each batch of BATCH_SIZE rows is its own short transaction,
so deleting never holds locks for long; a run does at most MAX_BATCHES per table and the next run
goes on, so a backlog (a policy just shortened) is worked off over a few runs rather than by one
task that never ends. Each run that deleted anything says what in the platform's audit trail.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from calls.models import Call, CallStatus
from calls.retention.selectors import organization_export_chunks
from integrations.models import ProviderCallAlias, WebhookReceipt
from portal.audit.models import AuditEntry
from portal.audit.services import audit_entries_expire, audit_record
from portal.tenancy.models import MINIMUM_AUDIT_RETENTION_DAYS, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_BATCHES = 100
FINISHED = (CallStatus.DONE, CallStatus.FAILED)
# Another id a provider knows a call by is only asked about while the call may still be
# reconciled, which ends at the give-up deadline (hours): a week is plenty.
CALL_ALIAS_DAYS = 7


# What one batch did: how many rows it found to delete, and the rows deleted per model label
# (a call's inbox events and delivery attempts go with it).
Batch = tuple[int, Counter[str]]


@dataclass
class RetentionRun:
    """What one run deleted, per model label, in all and per organisation; what it left for the
    next run (more was due than MAX_BATCHES); and the error that stopped it, if one did."""

    deleted: Counter[str] = field(default_factory=Counter)
    by_organization: dict[str, dict[str, int]] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)
    error: str = ""

    def delete(self, name: str, delete_batch: Callable[[int], Batch]) -> Counter[str]:
        deleted: Counter[str] = Counter()
        for _ in range(MAX_BATCHES):
            found, batch = delete_batch(BATCH_SIZE)
            deleted.update(batch)
            self.deleted.update(batch)
            if found < BATCH_SIZE:
                break
        else:
            self.unfinished.append(name)
        return deleted


def retention_apply(*, now: datetime | None = None) -> Counter[str]:
    """Delete what every organisation's policy, and the platform's, no longer keeps. Returns
    the rows deleted per model label. Whatever was deleted is audited, even when an error stops
    the run half-way (each batch committed on its own)."""
    run = RetentionRun()
    try:
        _apply(run, now=now or timezone.now())
    except Exception as error:
        run.error = type(error).__name__
        raise
    finally:
        if run.deleted or run.error:
            audit_record(
                action="retention.run",
                data={
                    "deleted": dict(run.deleted),
                    "organizations": run.by_organization,
                    "unfinished": run.unfinished,
                    **({"error": run.error} if run.error else {}),
                },
            )
        logger.info(
            "retention.run deleted=%s unfinished=%s error=%s",
            dict(run.deleted),
            run.unfinished,
            run.error,
        )
    return run.deleted


def _apply(run: RetentionRun, *, now: datetime) -> None:
    for organization in Organization.objects.order_by("pk"):
        calls_before = now - timedelta(days=organization.call_retention_days)
        audit_before = now - timedelta(days=_audit_days(organization.audit_retention_days))
        deleted = run.delete(
            f"calls of organisation {organization.pk}",
            partial(_expire_calls, organization=organization, before=calls_before),
        )
        deleted += run.delete(
            f"audit trail of organisation {organization.pk}",
            partial(
                _expire_audit,
                entries=AuditEntry.objects.filter(
                    organization_id=organization.pk, created__lt=audit_before
                ),
            ),
        )
        if deleted:
            run.by_organization[str(organization.pk)] = dict(deleted)

    platform_before = now - timedelta(days=_audit_days(settings.RETENTION_PLATFORM_AUDIT_DAYS))
    # Entries of no organisation, and of organisations deleted since (they outlive them).
    platform_entries = AuditEntry.objects.filter(created__lt=platform_before).filter(
        Q(organization_id__isnull=True) | ~Q(organization_id__in=Organization.objects.values("pk"))
    )
    run.delete("platform audit trail", partial(_expire_audit, entries=platform_entries))
    receipts_before = now - timedelta(days=settings.RETENTION_WEBHOOK_RECEIPT_DAYS)
    run.delete(
        "refused webhooks",
        partial(_delete, queryset=WebhookReceipt.objects.filter(received_at__lt=receipts_before)),
    )
    run.delete(
        "provider call aliases",
        partial(
            _delete,
            queryset=ProviderCallAlias.objects.filter(
                seen_at__lt=now - timedelta(days=CALL_ALIAS_DAYS)
            ),
        ),
    )
    run.delete(
        "expired sessions", partial(_delete, queryset=Session.objects.filter(expire_date__lt=now))
    )


def _audit_days(days: int) -> int:
    # The trigger refuses younger entries whatever we ask (portal/audit/migrations/0003).
    return max(days, MINIMUM_AUDIT_RETENTION_DAYS)


def _expire_calls(limit: int, *, organization: Organization, before: datetime) -> Batch:
    old = (
        Call.objects.for_organization(organization)
        .filter(status__in=FINISHED)
        .filter(Q(last_event_at__lt=before) | Q(last_event_at__isnull=True, created__lt=before))
    )
    with transaction.atomic():
        # Locked and checked again under the lock, skipping calls a worker or a late event holds:
        # an event arriving now makes its call active again, and it must not go with the call.
        ids = list(
            old.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        return len(ids), _deleted(Call.objects.filter(pk__in=ids)) if ids else Counter()


def _expire_audit(limit: int, *, entries: QuerySet[AuditEntry]) -> Batch:
    deleted = audit_entries_expire(entries=entries, limit=limit)
    return deleted, Counter({AuditEntry._meta.label: deleted} if deleted else {})


def _delete(limit: int, *, queryset: QuerySet[Any]) -> Batch:
    with transaction.atomic():
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:limit])
        return len(ids), _deleted(queryset.model.objects.filter(pk__in=ids)) if ids else Counter()


def _deleted(queryset: QuerySet[Any]) -> Counter[str]:
    _, per_model = queryset.delete()
    return Counter({label: n for label, n in per_model.items() if n})


def _platform_audit(
    *, action: str, organization: Organization, actor: User, data: dict[str, Any]
) -> None:
    """An entry about the organisation itself in the platform's trail (no organisation): it
    must outlive the organisation and be read by platform staff."""
    audit_record(
        action=action,
        actor=actor,
        target=organization,
        data={
            "organization": {
                "id": organization.pk,
                "name": organization.name,
                "slug": organization.slug,
            },
            **data,
        },
    )


def organization_export(*, organization: Organization, actor: User) -> Iterator[str]:
    """Everything the organisation has with us, as JSON text in pieces (streamed: an
    organisation's calls do not fit in memory). Secrets (tokens, signing secrets, webhook URL
    tokens, credentials) are left out. Recorded in the platform's audit trail."""
    _platform_audit(action="organization.export", organization=organization, actor=actor, data={})
    return organization_export_chunks(organization=organization)


@transaction.atomic
def organization_delete(*, organization: Organization, actor: User) -> Counter[str]:
    """Delete the organisation and everything it owns, all or nothing. Its audit entries stay
    (they name it by id and label) and expire under the platform's audit retention; the deletion
    itself is recorded in the platform's trail with what was deleted."""
    Organization.objects.select_for_update().get(pk=organization.pk)
    deleted: Counter[str] = Counter()
    # Calls first, in batches: the cascade would otherwise load every call into memory at once.
    calls = Call.objects.for_organization(organization).order_by("pk").values_list("pk", flat=True)
    while ids := list(calls[:BATCH_SIZE]):
        deleted.update(_deleted(Call.objects.filter(pk__in=ids)))
    deleted.update(_deleted(WebhookReceipt.objects.filter(organization_id=organization.pk)))
    deleted.update(_deleted(Organization.objects.filter(pk=organization.pk)))
    _platform_audit(
        action="organization.delete",
        organization=organization,
        actor=actor,
        data={"deleted": dict(deleted)},
    )
    return deleted
