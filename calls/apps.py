from __future__ import annotations

from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    verbose_name = "Calls"

    def ready(self) -> None:
        from calls.services import on_connection_reactivated
        from integrations.outreach.signals import connection_reactivated

        connection_reactivated.connect(on_connection_reactivated, dispatch_uid="calls.resume")
