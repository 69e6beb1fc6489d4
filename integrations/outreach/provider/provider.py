"""The allauth OAuth2 provider `outreach` (allauth ships none).

Used only to *connect* an Outreach user to an organisation, never to sign anyone in: the
social-account adapter (integrations/outreach/adapter.py) turns every completed login into an
`OutreachConnection` and stops there.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider

from integrations.outreach.provider.views import OutreachOAuth2Adapter

# The least the product needs; README.md gives the reason for each.
SCOPES = ["calls.read", "calls.write", "users.read", "phoneNumbers.read"]


class OutreachAccount(ProviderAccount):
    def to_str(self) -> str:
        return str(self.account.extra_data.get("email") or super().to_str())


class OutreachProvider(OAuth2Provider):
    id = "outreach"
    name = "Outreach"
    account_class = OutreachAccount
    oauth2_adapter_class = OutreachOAuth2Adapter

    def get_default_scope(self) -> list[str]:
        return list(SCOPES)

    def extract_uid(self, data: dict[str, Any]) -> str:
        return str(data["user_id"])

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"email": data.get("email")}


provider_classes = [OutreachProvider]
