"""Retention on beat's schedule (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from calls.retention.services import retention_apply


@shared_task
def apply_retention() -> None:
    retention_apply()
