"""The organisation's Outreach page, and the buttons that connect and disconnect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.outreach.authorization.connect import connect_start
from integrations.outreach.models import ConnectionKind, ConnectionStatus, OutreachConnection
from integrations.outreach.selectors import organization_connection, user_connection
from integrations.outreach.services import connection_disconnect
from portal.tenancy.access import AuthenticatedRequest, OrganizationRequest, organization_view
from portal.tenancy.models import Access, Membership


@organization_view(access=Access.READ)
def outreach_page(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    return render(
        request,
        "outreach/organization.html",
        {
            "connection": organization_connection(organization=organization),
            "rep_connections": OutreachConnection.objects.for_organization(organization)
            .filter(kind=ConnectionKind.USER)
            .exclude(status=ConnectionStatus.REVOKED)
            .select_related("user")
            .order_by("user__email"),
        },
    )


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def outreach_connect(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    return connect_start(
        request,
        organization=organization,
        kind=ConnectionKind.ORGANIZATION,
        return_url=reverse("outreach", kwargs={"org": organization.slug}),
    )


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def outreach_disconnect(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    connection = organization_connection(organization=organization)
    if connection is not None and connection.status != ConnectionStatus.REVOKED:
        connection_disconnect(connection=connection, actor=request.user)
        messages.success(
            request, "Outreach disconnected. Calls now need each rep's own connection."
        )
    return redirect("outreach", org=organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def outreach_rep_disconnect(
    request: OrganizationRequest, outreach_connection_id: int
) -> HttpResponse:
    """An admin takes a rep's own connection out of use (a rep who left, a wrong Outreach
    user); the rep's calls then go out with the organisation's connection."""
    organization = request.organization
    connection = get_object_or_404(
        OutreachConnection.objects.for_organization(organization).filter(kind=ConnectionKind.USER),
        pk=outreach_connection_id,
    )
    if connection.status != ConnectionStatus.REVOKED:
        connection_disconnect(connection=connection, actor=request.user)
        messages.success(
            request,
            f"The Outreach connection of {connection.user.email} is disconnected; their calls "
            "now go out with the organisation's connection.",
        )
    return redirect("outreach", org=organization.slug)


def _own_membership(request: AuthenticatedRequest, org: str) -> Membership:
    # A rep's own connection: any member may make it, nobody else learns the organisation exists.
    membership = (
        Membership.objects.filter(user=request.user, organization__slug=org)
        .select_related("organization")
        .first()
    )
    if membership is None:
        raise Http404("No such organisation.")
    return membership


@login_required
@require_POST
def my_outreach_connect(request: AuthenticatedRequest, org: str) -> HttpResponse:
    membership = _own_membership(request, org)
    return connect_start(
        request,
        organization=membership.organization,
        kind=ConnectionKind.USER,
        return_url=reverse("user_settings"),
    )


@login_required
@require_POST
def my_outreach_disconnect(request: AuthenticatedRequest, org: str) -> HttpResponse:
    membership = _own_membership(request, org)
    connection = user_connection(organization=membership.organization, user=request.user)
    if connection is not None and connection.status != ConnectionStatus.REVOKED:
        connection_disconnect(connection=connection, actor=request.user)
        messages.success(
            request, f"Your Outreach user is disconnected from {membership.organization}."
        )
    return redirect("user_settings")
