"""The append-only audit trail support staff and auditors read.

Entries name people and objects by plain id and label, never by foreign key: deleting a user,
an organisation or a call must not be blocked by (or erase) its history. On PostgreSQL a trigger
refuses UPDATE and DELETE (see the migrations); the model refuses them too, for every database.
The one exception is retention deleting old entries (services.audit_entries_expire), which the
trigger lets through only for entries past the minimum retention.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("audit entries are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("audit entries are append-only")


class AuditEntry(models.Model):
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    organization_id = models.BigIntegerField(null=True, db_index=True)
    organization_label = models.CharField(max_length=200, blank=True)
    actor_id = models.BigIntegerField(null=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True, db_index=True)
    target_label = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["organization_id", "-created"])]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("audit entries are append-only")
