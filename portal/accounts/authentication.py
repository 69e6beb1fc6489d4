"""`Authorization: Bearer cbt_...` for the REST API and the browser extension."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from portal.accounts.models import TOKEN_PREFIX, ApiToken, hash_api_token
from portal.accounts.services import api_token_touch
from portal.tenancy.models import Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token.startswith(TOKEN_PREFIX):
            return None  # not ours: let session authentication try
        api_token = (
            ApiToken.objects.select_related("user", "organization")
            .filter(token_hash=hash_api_token(token.strip()))
            .first()
        )
        if api_token is None:
            raise exceptions.AuthenticationFailed("Unknown API token.")
        if api_token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API token was revoked.")
        if not api_token.is_active:
            raise exceptions.AuthenticationFailed("This API token has expired.")
        if (
            not api_token.user.is_active
            or not Membership.objects.for_organization(api_token.organization)
            .filter(user=api_token.user)
            .exists()
        ):
            raise exceptions.AuthenticationFailed(
                "The token's owner is no longer a member of its organisation."
            )
        api_token_touch(api_token=api_token)
        return api_token.user, api_token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
