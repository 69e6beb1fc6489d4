from __future__ import annotations

from django.apps import AppConfig


class OutreachSandboxConfig(AppConfig):
    """Only so that `manage.py outreach_sandbox` exists in a checkout; no models."""

    name = "outreach_sandbox"
    label = "outreach_sandbox"
