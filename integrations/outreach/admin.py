"""Read-only admin views. The token fields have no form field (portal.encryption), so no admin
page can show or edit them; they are left out of the lists too."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from integrations.outreach.models import OutreachConnection, OutreachOrg


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OutreachConnection)
class OutreachConnectionAdmin(ReadOnlyAdmin):
    list_display = ["organization", "kind", "user", "outreach_email", "status", "expires_at"]
    list_filter = ["status", "kind"]
    search_fields = ["outreach_email", "outreach_user_id", "organization__name"]
    exclude = ["access_token", "refresh_token"]


@admin.register(OutreachOrg)
class OutreachOrgAdmin(ReadOnlyAdmin):
    list_display = ["organization", "name", "outreach_org_id", "linked_at"]
