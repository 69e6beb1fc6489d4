from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from calls import services
from calls.forms import AgentMappingForm
from calls.models import AgentMapping, Call, CallStatus
from calls.selectors import (
    call_timeline,
    calls_needing_attention,
    calls_visible,
    dashboard_figures,
)
from portal.tenancy.access import OrganizationRequest, organization_view
from portal.tenancy.models import Access

PAGE_SIZE = 100
ATTENTION = "attention"  # the list filter for calls a person should look at


def _visible(request: OrganizationRequest) -> QuerySet[Call]:
    return calls_visible(organization=request.organization, membership=request.membership)


@organization_view(access=Access.READ)
def dashboard(request: OrganizationRequest) -> HttpResponse:
    """The organisation's home: how its calls are doing, and what needs a person."""
    figures = dashboard_figures(
        organization=request.organization, membership=request.membership, user=request.user
    )
    return render(request, "calls/dashboard.html", figures)


@organization_view(access=Access.READ)
def call_list(request: OrganizationRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    calls = _visible(request)
    if status == ATTENTION:
        calls = calls_needing_attention(calls)
    elif status in CallStatus.values:
        calls = calls.filter(status=status)
    return render(
        request,
        "calls/call_list.html",
        {
            "calls": calls.select_related("connection")[:PAGE_SIZE],
            "status": status,
            "statuses": [*CallStatus.choices, (ATTENTION, "Needs attention")],
        },
    )


@organization_view(access=Access.READ)
def call_detail(request: OrganizationRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(_visible(request), pk=call_id)
    return render(
        request,
        "calls/call_detail.html",
        {
            "call": call,
            "timeline": call_timeline(call=call),
        },
    )


@organization_view(access=Access.OPERATIONAL, methods=("POST",))
def call_replay(request: OrganizationRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(_visible(request), pk=call_id)
    services.call_replay(call=call, actor=request.user)
    messages.success(request, "Replay queued: the call is re-planned against what Outreach has.")
    return redirect("call_detail", org=request.organization.slug, call_id=call.pk)


@organization_view(access=Access.READ)
def agent_mappings(request: OrganizationRequest) -> HttpResponse:
    return _agents_page(request, AgentMappingForm(organization=request.organization))


def _agents_page(request: OrganizationRequest, form: AgentMappingForm) -> HttpResponse:
    mappings = AgentMapping.objects.for_organization(request.organization).select_related("user")
    return render(request, "calls/agent_mappings.html", {"mappings": mappings, "form": form})


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def agent_mapping_create(request: OrganizationRequest) -> HttpResponse:
    form = AgentMappingForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _agents_page(request, form)
    try:
        outreach_user_id = services.outreach_user_resolve(
            organization=request.organization, user=form.cleaned_data["outreach_user"]
        )
        services.agent_mapping_create(
            organization=request.organization,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            value=form.cleaned_data["value"],
            outreach_user_id=outreach_user_id,
            user=form.member_user(),
        )
    except services.OutreachUserUnknown as error:
        form.add_error("outreach_user", str(error))
        return _agents_page(request, form)
    except IntegrityError:
        form.add_error("value", "This agent identity is already mapped.")
        return _agents_page(request, form)
    messages.success(request, "Mapping added; calls held for it are being delivered.")
    return redirect("agent_mappings", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def agent_mapping_delete(request: OrganizationRequest, mapping_id: int) -> HttpResponse:
    mapping = get_object_or_404(
        AgentMapping.objects.for_organization(request.organization), pk=mapping_id
    )
    services.agent_mapping_delete(mapping=mapping, actor=request.user)
    messages.success(request, "Mapping removed.")
    return redirect("agent_mappings", org=request.organization.slug)
