"""How allauth's social login becomes "connect Outreach", and nothing else.

`connect_start` sends a signed-in person to Outreach with their intent (which organisation, the
organisation's connection or their own, and where to come back) stashed in allauth's state, which
is single-use and bound to their session. On the way back allauth checks the state, exchanges the
code and asks Outreach who authorised us (views.py); then `pre_social_login` saves our
`OutreachConnection` in one transaction and answers a redirect, so allauth never logs anyone in,
creates a user or stores a token. Every failure, allauth's own included, ends on the page the
person started from with a message saying what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter, get_adapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base import AuthError, AuthProcess
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from integrations.outreach.models import ConnectionKind
from integrations.outreach.services import ConnectRefused, connection_connect
from portal.tenancy.access import AuthenticatedRequest
from portal.tenancy.models import Access, Membership, Organization

# Where to send the person if allauth's state is gone (reused or forged): the page of their last
# attempt, which only tells us where to show the message, never what to save.
RETURN_SESSION_KEY = "outreach_connect_return"


@dataclass(frozen=True)
class ConnectIntent:
    organization_id: int
    kind: str
    user_id: int
    return_url: str

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ConnectIntent | None:
        data = (state or {}).get("data")
        try:
            return cls(**data) if isinstance(data, dict) else None
        except TypeError:
            return None


def connect_start(
    request: AuthenticatedRequest,
    *,
    organization: Organization,
    kind: ConnectionKind,
    return_url: str,
) -> HttpResponse:
    provider = get_adapter(request).get_provider(request, "outreach")
    request.session[RETURN_SESSION_KEY] = return_url
    intent = ConnectIntent(organization.pk, kind, request.user.pk, return_url)
    return provider.redirect(
        request, process=AuthProcess.REDIRECT, next_url=return_url, data=intent.__dict__
    )


def _back(request: HttpRequest, url: str | None, *, error: str = "", success: str = "") -> NoReturn:
    if error:
        messages.error(request, error)
    if success:
        messages.success(request, success)
    if not url or not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        url = request.session.get(RETURN_SESSION_KEY) or reverse("home")
    raise ImmediateHttpResponse(HttpResponseRedirect(url))


class OutreachConnectFlow(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        intent = ConnectIntent.from_state(sociallogin.state)
        if intent is None or not request.user.is_authenticated or request.user.pk != intent.user_id:
            _back(
                request,
                None,
                error="Outreach can only be connected from your settings page or your "
                "organisation's Outreach page, while signed in. Nothing was saved.",
            )
        membership = (
            Membership.objects.filter(organization_id=intent.organization_id, user=request.user)
            .select_related("organization")
            .first()
        )
        kind = ConnectionKind(intent.kind)
        # Checked again now: the person's role may have changed while they were at Outreach.
        if membership is None or (
            kind == ConnectionKind.ORGANIZATION and not membership.allows(Access.CONFIGURATION)
        ):
            _back(request, None, error="You may not connect Outreach for this organisation.")
        identity = sociallogin.outreach_identity
        try:
            connection = connection_connect(
                organization=membership.organization,
                kind=kind,
                rep=request.user,
                actor=request.user,
                grant=sociallogin.outreach_grant,
                identity=identity,
            )
        except ConnectRefused as refusal:
            _back(request, intent.return_url, error=f"{refusal} Nothing was saved.")
        _back(
            request,
            intent.return_url,
            success=f"Outreach connected as {connection.outreach_email or identity.user_id}.",
        )

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        extra_context = extra_context or {}
        intent = ConnectIntent.from_state(extra_context.get("state"))
        if error == AuthError.CANCELLED:
            message = "You declined the connection in Outreach."
        elif exception is not None:
            message = str(exception)
        elif "state" not in extra_context:
            message = (
                "This Outreach connection attempt is not valid: it was already completed, has "
                "expired, or was started in another browser. Please start again."
            )
        else:
            reason = request.GET.get("error_description") or request.GET.get("error") or "unknown"
            message = f"Outreach did not authorise the connection ({reason})."
        _back(request, intent.return_url if intent else None, error=f"{message} Nothing was saved.")

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False  # Outreach never creates Callbridge accounts
