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
from typing import TYPE_CHECKING, Any, Concatenate, Protocol, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseNotAllowed
from django.http.response import HttpResponseBase

from portal.audit.services import audit_record
from portal.tenancy.models import STAFF_ACCESS, Access, Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SESSION_KEY = "organization"


class AuthenticatedRequest(HttpRequest):
    """What a `@login_required` view receives: a signed-in user, never `AnonymousUser`.

    A type only: at run time it is Django's own request, whose user `login_required` checked."""

    user: User


class OrganizationRequest(AuthenticatedRequest):
    """What an `@organization_view` receives: the organisation named in the URL, and the
    caller's membership of it (None for platform staff, who read without one).

    A type only: the gate sets both attributes on Django's own request before calling the view."""

    organization: Organization
    membership: Membership | None


class OrganizationView(Protocol):
    """A gated view as the URLconf sees it: called with the `<org>` slug, declaring its access
    (which the isolation test reads)."""

    access: Access

    def __call__(
        self, request: HttpRequest, org: str, *args: Any, **kwargs: Any
    ) -> HttpResponseBase: ...


# The view as written, before the gate: it takes the gated request and the URL's other arguments.
View = Callable[Concatenate[OrganizationRequest, ...], HttpResponseBase]


def organization_view(
    *, access: Access, methods: tuple[str, ...] = ("GET",)
) -> Callable[[View], OrganizationView]:
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def decorator(view: View) -> OrganizationView:
        @wraps(view)
        def wrapper(
            request: AuthenticatedRequest, org: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            # Authorise before anything else, so an outsider gets 404 whatever the method.
            organization, membership = authorize(request, slug=org, access=access)
            if request.method not in allowed:
                return HttpResponseNotAllowed(sorted(allowed))
            # The same object: the two attributes set below are what make it an OrganizationRequest.
            gated = cast(OrganizationRequest, request)
            gated.organization = organization
            gated.membership = membership
            return view(gated, *args, **kwargs)

        # login_required is what makes the wrapper's request an AuthenticatedRequest; the line
        # after the cast is what makes it an OrganizationView.
        gated_view = cast(OrganizationView, login_required(wrapper))
        gated_view.access = access
        return gated_view

    return decorator


def authorize(
    request: AuthenticatedRequest, *, slug: str, access: Access
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
