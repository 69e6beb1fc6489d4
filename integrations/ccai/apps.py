from __future__ import annotations

from django.apps import AppConfig


class CcaiConfig(AppConfig):
    """Google CCAI Platform (formerly UJET): an app of its own only for its two small tables,
    the shared request pace and the dials waiting for the agent's widget (`models.py`)."""

    name = "integrations.ccai"
    label = "ccai"
    verbose_name = "Google CCAI Platform"
    default_auto_field = "django.db.models.BigAutoField"
