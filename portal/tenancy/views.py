from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from portal.tenancy import services
from portal.tenancy.access import (
    SESSION_KEY,
    AuthenticatedRequest,
    OrganizationRequest,
    organization_view,
)
from portal.tenancy.forms import (
    InvitationForm,
    OrganizationForm,
    OrganizationSettingsForm,
    RoleForm,
)
from portal.tenancy.models import Access, Invitation, Membership, Role


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "tenancy/landing.html")
    memberships = Membership.objects.filter(user=request.user).select_related("organization")
    current = request.session.get(SESSION_KEY)
    for membership in memberships:
        if membership.organization.slug == current:
            return redirect("dashboard", org=current)
    if memberships:
        return redirect("dashboard", org=memberships[0].organization.slug)
    return redirect("organization_create")


@login_required
@require_http_methods(["GET", "POST"])
def organization_create(request: AuthenticatedRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization = services.organization_create(
            name=form.cleaned_data["name"],
            default_region=form.cleaned_data["default_region"],
            owner=request.user,
        )
        return redirect("dashboard", org=organization.slug)
    return render(request, "tenancy/organization_create.html", {"form": form})


@organization_view(access=Access.READ)
def members(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    return render(
        request,
        "tenancy/members.html",
        {
            "memberships": Membership.objects.for_organization(organization).select_related("user"),
            "invitations": [
                invitation
                for invitation in Invitation.objects.for_organization(organization)
                if invitation.is_pending
            ],
            "invitation_form": InvitationForm(),
            "roles": Role.choices,
        },
    )


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def invitation_create(request: OrganizationRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(
                organization=request.organization,
                email=form.cleaned_data["email"],
                role=Role(form.cleaned_data["role"]),
                invited_by=request.user,
            )
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    else:
        messages.error(request, "Enter a valid email address and role.")
    return redirect("members", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def invitation_revoke(request: OrganizationRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.for_organization(request.organization), pk=invitation_id
    )
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("members", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def membership_role(request: OrganizationRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.for_organization(request.organization), pk=membership_id
    )
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
    else:
        try:
            services.membership_set_role(
                membership=membership, role=Role(form.cleaned_data["role"]), actor=request.user
            )
            messages.success(request, f"{membership.user.email} is now {membership.role}.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return redirect("members", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def membership_remove(request: OrganizationRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(
        Membership.objects.for_organization(request.organization), pk=membership_id
    )
    try:
        services.membership_remove(membership=membership, actor=request.user)
        messages.success(request, f"{membership.user.email} was removed.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("members", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("GET", "POST"))
def organization_settings(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    fields = OrganizationSettingsForm.base_fields
    form = OrganizationSettingsForm(
        request.POST or None, initial={name: getattr(organization, name) for name in fields}
    )
    if request.method == "POST" and form.is_valid():
        services.organization_update(
            organization=request.organization, actor=request.user, **form.cleaned_data
        )
        messages.success(request, "Settings saved.")
        return redirect("organization_settings", org=request.organization.slug)
    return render(request, "tenancy/organization_settings.html", {"form": form})


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def recording_links_revoke(request: OrganizationRequest) -> HttpResponse:
    services.organization_revoke_recording_links(
        organization=request.organization, actor=request.user
    )
    messages.success(
        request,
        "Every recording and voicemail link given out so far is revoked, those in Outreach "
        "included. New calls get new links.",
    )
    return redirect("organization_settings", org=request.organization.slug)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_find(token=token)
    except services.InvitationError as error:
        return render(
            request, "tenancy/invitation_error.html", {"message": str(error)}, status=error.status
        )
    if not request.user.is_authenticated:
        return render(request, "tenancy/invitation_welcome.html", {"invitation": invitation})
    if request.method == "GET":
        return render(request, "tenancy/invitation_accept.html", {"invitation": invitation})
    try:
        membership = services.invitation_accept(token=token, user=request.user)
    except services.InvitationError as error:
        return render(
            request, "tenancy/invitation_error.html", {"message": str(error)}, status=error.status
        )
    messages.success(request, f"Welcome to {membership.organization}.")
    return redirect("dashboard", org=membership.organization.slug)
