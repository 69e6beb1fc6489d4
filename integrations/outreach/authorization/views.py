"""allauth's OAuth2 adapter for Outreach, on our own token endpoint code and API client.

The code exchange and the who-am-I request go through integrations/outreach (oauth.py, client.py)
like every other request to Outreach, so the tokens are `Secret`s from the start and never land
in allauth's tables. The callback URL is built from PUBLIC_BASE_URL: it must equal the redirect
URI registered with Outreach, whatever Host header the request came with.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.base import ProviderException
from allauth.socialaccount.providers.oauth2.views import (
    OAuth2Adapter,
    OAuth2CallbackView,
    OAuth2LoginView,
)
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from integrations.outreach import oauth
from integrations.outreach.client import OutreachClient
from integrations.outreach.errors import OutreachError, TokenRefused


class OutreachTokenExchange(OAuth2Adapter):
    provider_id = "outreach"

    @property
    def authorize_url(self) -> str:  # read at request time: tests point it at the sandbox
        return oauth.authorize_url()

    @property
    def access_token_url(self) -> str:
        return oauth.token_url()

    def get_callback_url(self, request: HttpRequest, app: SocialApp) -> str:
        return settings.PUBLIC_BASE_URL + reverse("outreach_callback")

    def get_access_token_data(
        self, request: HttpRequest, app: SocialApp, client: Any, pkce_code_verifier: Any = None
    ) -> dict[str, Any]:
        try:
            grant = oauth.exchange_code(
                code=request.GET.get("code", ""),
                redirect_uri=self.get_callback_url(request, app),
            )
        except TokenRefused as error:
            raise ProviderException(
                "Outreach did not accept this authorisation (it was already used or has "
                "expired). Please connect again."
            ) from error
        except OutreachError as error:
            raise ProviderException(
                f"Outreach could not complete the connection: {error}"
            ) from error
        self.did_fetch_access_token = True
        return {"grant": grant}

    def parse_token(self, data: dict[str, Any]) -> SocialToken:
        # allauth's token model is never saved (SOCIALACCOUNT_STORE_TOKENS is off): keep the
        # secrets out of it altogether.
        return SocialToken(token="")

    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> SocialLogin:
        grant = kwargs["response"]["grant"]
        try:
            with OutreachClient(access_token=grant.access_token) as client:
                identity, _ = client.whoami()
        except OutreachError as error:
            raise ProviderException(f"Outreach did not say who authorised us: {error}") from error
        login = self.get_provider().sociallogin_from_response(request, asdict(identity))
        # Carried to the adapter's pre_social_login, which saves the connection.
        login.outreach_grant = grant
        login.outreach_identity = identity
        return login


oauth2_login = OAuth2LoginView.adapter_view(OutreachTokenExchange)
oauth2_callback = OAuth2CallbackView.adapter_view(OutreachTokenExchange)
