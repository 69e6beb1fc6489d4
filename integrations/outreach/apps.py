from __future__ import annotations

from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "integrations.outreach"
    label = "outreach"
    verbose_name = "Outreach"

    def ready(self) -> None:
        from integrations.outreach.services import on_member_removed
        from portal.tenancy.signals import member_removed

        member_removed.connect(on_member_removed, dispatch_uid="outreach.disconnect_member")
