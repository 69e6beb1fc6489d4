"""The provider folders' Celery tasks, where Celery's autodiscovery looks for the integrations
app's (`<app>.tasks`)."""

from integrations.finesse.tasks import finesse_dial_extension

__all__ = ["finesse_dial_extension"]
