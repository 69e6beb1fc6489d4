from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from portal.accounts.extension import extension_zip
from portal.accounts.forms import ApiTokenForm
from portal.accounts.models import ApiToken
from portal.accounts.services import api_token_create, api_token_revoke
from portal.tenancy.access import AuthenticatedRequest
from portal.tenancy.models import Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@login_required
@require_http_methods(["GET", "POST"])
def user_settings(request: AuthenticatedRequest) -> HttpResponse:
    memberships = list(Membership.objects.filter(user=request.user).select_related("organization"))
    form = ApiTokenForm(request.POST or None, memberships=memberships)
    new_token = None
    if request.method == "POST" and form.is_valid():
        membership = form.memberships[form.cleaned_data["organization"]]
        _, new_token = api_token_create(
            user=request.user,
            organization=membership.organization,
            name=form.cleaned_data["name"],
            lifetime_days=form.cleaned_data["lifetime_days"],
        )
        form = ApiTokenForm(memberships=memberships)
    tokens = ApiToken.objects.filter(user=request.user).select_related("organization")
    return render(
        request,
        "accounts/settings.html",
        {
            "form": form,
            "tokens": tokens,
            "new_token": new_token,
            "portal_address": settings.PUBLIC_BASE_URL,
            "debug": settings.DEBUG,
        },
    )


@login_required
@require_http_methods(["GET"])
def extension_download(request: AuthenticatedRequest) -> HttpResponse:
    """The Chrome extension as a zip; `?build=development` also runs on the sandbox's dialer."""
    development = request.GET.get("build") == "development"
    name = "callbridge-extension-development.zip" if development else "callbridge-extension.zip"
    response = HttpResponse(extension_zip(development=development), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_POST
def api_token_revoke_view(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    # A person's own tokens only: another user's id is simply not found.
    api_token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    api_token_revoke(api_token=api_token, actor=request.user)
    messages.success(request, f"Token “{api_token.name}” revoked.")
    return redirect("user_settings")


@api_view(["GET"])
def me(request: Request) -> Response:
    """Who the caller is; the browser extension uses it to check its token."""
    # Signed in: IsAuthenticated, the default permission, lets no one else this far. (DRF's
    # api_view wants a view of any Request, so a narrower request type would not fit here.)
    user = cast("User", request.user)
    api_token = request.auth if isinstance(request.auth, ApiToken) else None
    memberships = Membership.objects.filter(user=user).select_related("organization")
    if api_token is not None:
        memberships = memberships.filter(organization=api_token.organization)
    return Response(
        {
            "email": user.email,
            "organizations": [
                {"slug": m.organization.slug, "name": m.organization.name, "role": m.role}
                for m in memberships
            ],
        }
    )
