from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class IntegrationsConfig(AppConfig):
    name = "integrations"
    label = "integrations"
    verbose_name = "Telephony providers"

    def ready(self) -> None:
        from integrations.registry import registry_check

        checks.register(registry_check)
