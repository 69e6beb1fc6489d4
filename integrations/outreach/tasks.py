"""Periodic upkeep of Outreach connections (scheduled in settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.outreach.budget import budget_prune
from integrations.outreach.errors import OutreachError
from integrations.outreach.models import ConnectionStatus, OutreachConnection
from integrations.outreach.services import connection_refresh

logger = logging.getLogger(__name__)

# Outreach's refresh tokens die after 14 days unused: a connection nobody used for a week is
# refreshed, so a rep back from holiday does not find it needing reconnection.
IDLE_REFRESH_AFTER = timedelta(days=7)


@shared_task
def refresh_idle_connections() -> None:
    cutoff = timezone.now() - IDLE_REFRESH_AFTER
    idle = (
        OutreachConnection.objects.filter(status=ConnectionStatus.ACTIVE)
        .annotate(last_grant=Coalesce("refreshed_at", "connected_at"))
        .filter(Q(last_grant__lt=cutoff))
    )
    for connection in idle:
        try:
            # A stale token that equals the stored one forces the refresh.
            connection_refresh(connection=connection, stale_access_token=connection.access_token)
        except OutreachError as error:
            logger.warning(
                "outreach.idle_refresh_failed connection=%s error=%s", connection.pk, error
            )


@shared_task
def prune_rate_windows() -> None:
    budget_prune()
