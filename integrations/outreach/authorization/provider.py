"""Outreach's OAuth authorization, as allauth's OAuth2 provider `outreach` (allauth ships none).

allauth finds it by this module's name (`<app>.provider`), so the name stays; in this package,
"provider" means telephony providers everywhere else. Used only to *connect* an Outreach user to
an organisation, never to sign anyone in: `connect.py` turns every completed authorization into
an `OutreachConnection` and stops there.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider

from integrations.outreach.authorization.views import OutreachTokenExchange

# The least the product needs; README.md gives the reason for each.
SCOPES = ["calls.read", "calls.write", "users.read", "phoneNumbers.read", "tasks.read"]


class OutreachAccount(ProviderAccount):
    def to_str(self) -> str:
        return str(self.account.extra_data.get("email") or super().to_str())


class OutreachAuthorization(OAuth2Provider):
    id = "outreach"
    name = "Outreach"
    account_class = OutreachAccount
    oauth2_adapter_class = OutreachTokenExchange

    def get_default_scope(self) -> list[str]:
        return list(SCOPES)

    def extract_uid(self, data: dict[str, Any]) -> str:
        return str(data["user_id"])

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"email": data.get("email")}


provider_classes = [OutreachAuthorization]
