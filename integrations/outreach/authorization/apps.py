from __future__ import annotations

from django.apps import AppConfig


class OutreachProviderConfig(AppConfig):
    """allauth finds providers by importing `<app>.provider`: this app is that package."""

    name = "integrations.outreach.authorization"
    label = "outreach_authorization"
    verbose_name = "Outreach OAuth provider"
