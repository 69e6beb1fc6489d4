from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class IntegrationsConfig(AppConfig):
    name = "integrations"
    label = "integrations"
    verbose_name = "Telephony providers"

    def ready(self) -> None:
        from integrations.registry import registry_check
        from integrations.services import on_member_removed
        from portal.tenancy.signals import member_removed

        checks.register(registry_check)
        member_removed.connect(on_member_removed, dispatch_uid="integrations.forget_sign_ins")
