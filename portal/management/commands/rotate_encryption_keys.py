"""Re-encrypt every stored secret under the first key of ENCRYPTION_KEYS.

Rotation: put the new key first in ENCRYPTION_KEYS (keep the old ones after it), deploy, run this
command, then remove the old keys. Safe to run twice, and beside running workers: each batch of
rows is locked while it is rewritten, so a token refreshed meanwhile is not overwritten.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from portal.encryption import encrypted_fields

BATCH_SIZE = 500


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field under the first key of ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        for model, fields in encrypted_fields():
            names = [field.name for field in fields]
            pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(pks), BATCH_SIZE):
                with transaction.atomic():
                    rows = model._default_manager.select_for_update().filter(
                        pk__in=pks[start : start + BATCH_SIZE]
                    )
                    for row in rows:
                        # Reading decrypts with any key; writing encrypts with the first.
                        values = {name: getattr(row, name) for name in names}
                        model._default_manager.filter(pk=row.pk).update(**values)
            self.stdout.write(
                f"{model._meta.label}: {len(pks)} rows re-encrypted ({', '.join(names)})"
            )
