"""The one gate in front of every organisation-scoped view.

`@organization_view(access=Access.CONFIGURATION, methods=("POST",))` resolves the `<org>` slug
in the URL, answers 404 to anyone who is not a member (so another tenant cannot even learn a slug
exists, whatever the method), 403 to a member whose role does not allow the declared access, and
lets platform staff read any organisation, writing an audit entry for each such visit. The
declaration stays on the view (`view.access`) so the isolation test can check every page from
its URL pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed

from portal.audit.services import audit_record
from portal.tenancy.models import STAFF_ACCESS, Access, Membership, Organization

SESSION_KEY = "organization"
View = Callable[..., HttpResponse]


def organization_view(
    *, access: Access, methods: tuple[str, ...] = ("GET",)
) -> Callable[[View], View]:
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, org: str, *args: Any, **kwargs: Any) -> HttpResponse:
            # Authorise before anything else, so an outsider gets 404 whatever the method.
            organization, membership = authorize(request, slug=org, access=access)
            if request.method not in allowed:
                return HttpResponseNotAllowed(sorted(allowed))
            request.organization = organization  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        gated = login_required(wrapper)
        gated.access = access  # type: ignore[attr-defined]
        return gated

    return decorator


def authorize(
    request: HttpRequest, *, slug: str, access: Access
) -> tuple[Organization, Membership | None]:
    user = request.user
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise Http404("No such organisation.")
    membership = Membership.objects.for_organization(organization).filter(user=user).first()
    if membership is not None:
        if not membership.allows(access):
            raise PermissionDenied(f"Your role ({membership.role}) cannot do this.")
        request.session[SESSION_KEY] = organization.slug
        return organization, membership
    if user.is_staff:
        if access not in STAFF_ACCESS:
            raise PermissionDenied("Platform staff have read-only access here.")
        audit_record(
            action="staff.visit",
            organization=organization,
            actor=user,
            data={"path": request.get_full_path(), "method": request.method},
        )
        return organization, None
    raise Http404("No such organisation.")
