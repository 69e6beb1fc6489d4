from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from calls import services
from calls.attention import attention_overview, fix_for, refusals_in_words
from calls.forms import AgentMappingForm, CallFilterForm
from calls.models import AgentMapping, Call, CallStatus
from calls.selectors import (
    COUNT_LIMIT,
    calls_count,
    calls_filtered,
    calls_page,
    calls_visible,
    dashboard_figures,
)
from calls.timeline import call_is_live, call_timeline, timeline_version
from portal import clock
from portal.audit.services import audit_record
from portal.tenancy.access import OrganizationRequest, organization_view
from portal.tenancy.models import Access

PAGE_SIZE = 50
CSV_COLUMNS = [
    ("id", "pk"),
    ("created_utc", "created"),
    ("direction", "direction"),
    ("from", "from_number"),
    ("to", "to_number"),
    ("connection", "connection__name"),
    ("provider_call_id", "provider_call_id"),
    ("outreach_call_id", "outreach_call_id"),
    ("outreach_user_id", "outreach_user_id"),
    ("status", "status"),
    ("outreach_has", "reported_state"),
    ("final_state", "final_state"),
    ("problem", "problem"),
    ("attention", "attention"),
]


def _visible(request: OrganizationRequest) -> QuerySet[Call]:
    return calls_visible(organization=request.organization, membership=request.membership)


def _may_replay(request: OrganizationRequest) -> bool:
    return request.membership is not None and request.membership.allows(Access.OPERATIONAL)


@organization_view(access=Access.READ)
def dashboard(request: OrganizationRequest) -> HttpResponse:
    """The organisation's home: how its calls are doing, and what needs a person."""
    figures = dashboard_figures(
        organization=request.organization, membership=request.membership, user=request.user
    )
    return render(request, "calls/dashboard.html", figures)


def _filtered(request: OrganizationRequest) -> tuple[CallFilterForm, QuerySet[Call]]:
    form = CallFilterForm(request.GET or None, organization=request.organization)
    if form.is_bound:
        form.is_valid()  # the fields that did not validate are shown and left out
    return form, calls_filtered(_visible(request), form.filters())


@organization_view(access=Access.READ)
def call_list(request: OrganizationRequest) -> HttpResponse:
    form, calls = _filtered(request)
    page = calls_page(
        calls.select_related("connection"),
        size=PAGE_SIZE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    count, more = calls_count(calls, limit=COUNT_LIMIT)
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    return render(
        request,
        "calls/call_list.html",
        {
            "form": form,
            "page": page,
            "count": count,
            "more": more,
            "query": query.urlencode(),
            "filtered": bool(query),
            "search": form.filters().call_id,
            "search_is_phone": bool(form.filters().phones),
            "may_replay": _may_replay(request),
            "bulk_limit": services.BULK_REPLAY_LIMIT,
        },
    )


@organization_view(access=Access.READ)
def call_export(request: OrganizationRequest) -> StreamingHttpResponse:
    """The filtered set as CSV, newest first, streamed: a million rows never sit in memory."""
    _, calls = _filtered(request)
    audit_record(
        action="calls.export",
        organization=request.organization,
        actor=request.user,
        data={"filters": request.GET.urlencode()},
    )
    rows = calls.order_by("-created", "-id").values_list(*(field for _, field in CSV_COLUMNS))

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([name for name, _ in CSV_COLUMNS])
        for row in rows.iterator(chunk_size=2000):
            writer.writerow(
                [value.isoformat() if isinstance(value, datetime) else value for value in row]
            )
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = f"calls-{request.organization.slug}-{clock.now():%Y%m%d-%H%M%S}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@organization_view(access=Access.OPERATIONAL, methods=("POST",))
def call_bulk_replay(request: OrganizationRequest) -> HttpResponse:
    """Replay the calls the list's filters select (sent back as the form's query string)."""
    form = CallFilterForm(
        QueryDict(request.POST.get("query", "")), organization=request.organization
    )
    back = reverse("call_list", kwargs={"org": request.organization.slug})
    if not form.is_valid():
        messages.error(request, "The filters were not valid any more; nothing was replayed.")
        return redirect(back)
    replayed = services.calls_replay(
        calls=calls_filtered(_visible(request), form.filters()), actor=request.user
    )
    if replayed:
        messages.success(
            request,
            f"Replay queued for {replayed} call{pluralize(replayed)}; each replay is audited "
            "and its result shows on the call.",
        )
    else:
        messages.info(request, "Nothing to replay: every matching call is up to date in Outreach.")
    return redirect(f"{back}?{request.POST.get('query', '')}")


@organization_view(access=Access.READ)
def call_detail(request: OrganizationRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(_visible(request).select_related("connection"), pk=call_id)
    return render(
        request,
        "calls/call_detail.html",
        {
            **_timeline_context(call),
            "may_replay": _may_replay(request),
            "fix": fix_for(call),
            "explained": refusals_in_words([call.pk]).get(call.pk, "")
            if call.status == CallStatus.FAILED
            else "",
        },
    )


@organization_view(access=Access.READ)
def call_timeline_rows(request: OrganizationRequest, call_id: int) -> HttpResponse:
    """The live part of a call's page, for its polling: 204 (nothing to swap) while unchanged."""
    call = get_object_or_404(_visible(request).select_related("connection"), pk=call_id)
    if request.GET.get("version") == timeline_version(call=call):
        return HttpResponse(status=204)
    return render(request, "calls/_timeline.html", _timeline_context(call))


def _timeline_context(call: Call) -> dict[str, object]:
    return {
        "call": call,
        "timeline": call_timeline(call=call),
        "version": timeline_version(call=call),
        "live": call_is_live(call),
    }


@organization_view(access=Access.OPERATIONAL, methods=("POST",))
def call_replay(request: OrganizationRequest, call_id: int) -> HttpResponse:
    call = get_object_or_404(_visible(request), pk=call_id)
    back = request.POST.get("next") or reverse(
        "call_detail", kwargs={"org": request.organization.slug, "call_id": call.pk}
    )
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("call_list", kwargs={"org": request.organization.slug})
    seen = request.POST.get("seen", "")
    if seen and seen != call.status:
        now = call.get_status_display().lower()
        messages.info(
            request,
            f"This call changed since the page was loaded (it is now {now}); nothing was "
            "replayed. Look again and replay if it still needs it.",
        )
        return redirect(back)
    if not Call.objects.filter(pk=call.pk).filter(services.REPLAYABLE).exists():
        messages.info(request, "Nothing to replay: Outreach is up to date on this call.")
        return redirect(back)
    services.call_replay(call=call, actor=request.user)
    messages.success(request, "Replay queued: the call is re-planned against what Outreach has.")
    return redirect(back)


@organization_view(access=Access.READ)
def needs_attention(request: OrganizationRequest) -> HttpResponse:
    """Everything that needs a person, counted, each linking to its calls."""
    context = attention_overview(
        organization=request.organization, calls=_visible(request), user=request.user
    )
    context["may_replay"] = _may_replay(request)
    return render(request, "calls/needs_attention.html", context)


@organization_view(access=Access.READ)
def agent_mappings(request: OrganizationRequest) -> HttpResponse:
    # A held call's "Map agent" link names the identity to map: the form starts with it.
    initial = {key: request.GET[key] for key in ("kind", "value") if key in request.GET}
    return _agents_page(
        request, AgentMappingForm(initial=initial, organization=request.organization)
    )


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
