"""An organisation taking its data away (export) or leaving (delete): admins only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from calls.retention import services
from calls.retention.forms import OrganizationDeleteForm
from calls.retention.selectors import organization_size
from portal.tenancy.access import SESSION_KEY, OrganizationRequest, organization_view
from portal.tenancy.models import Access


@organization_view(access=Access.CONFIGURATION)
def organization_export(request: OrganizationRequest) -> StreamingHttpResponse:
    organization = request.organization
    response = StreamingHttpResponse(
        services.organization_export(organization=organization, actor=request.user),
        content_type="application/json",
    )
    filename = f"callbridge-{organization.slug}-{timezone.now():%Y%m%d-%H%M%S}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@organization_view(access=Access.CONFIGURATION, methods=("GET", "POST"))
def organization_delete(request: OrganizationRequest) -> HttpResponse:
    organization = request.organization
    form = OrganizationDeleteForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        services.organization_delete(organization=organization, actor=request.user)
        request.session.pop(SESSION_KEY, None)
        messages.success(request, f"{organization.name} and all its data were deleted.")
        return redirect("home")
    return render(
        request,
        "retention/organization_delete.html",
        {"form": form, **organization_size(organization=organization)},
    )
