"""The organisation's telephony providers and the webhooks we refused from them."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from integrations import services
from integrations.models import ProviderConnection, WebhookReceipt
from integrations.registry import provider_choices
from portal.tenancy.access import organization_view
from portal.tenancy.models import Access


class ProviderConnectionForm(forms.Form):
    kind = forms.ChoiceField(choices=provider_choices, label="Provider")
    name = forms.CharField(max_length=100, help_text="So you can tell connections apart.")


def webhook_url(connection: ProviderConnection) -> str:
    path = reverse("webhook", kwargs={"kind": connection.kind, "token": connection.webhook_token})
    return settings.PUBLIC_BASE_URL + path


def _page(
    request: HttpRequest,
    *,
    new_secret: tuple[ProviderConnection, str] | None = None,
    form: ProviderConnectionForm | None = None,
) -> HttpResponse:
    connections = ProviderConnection.objects.for_organization(request.organization)
    return render(
        request,
        "integrations/providers.html",
        {
            "connections": [(c, webhook_url(c), len(c.signing_secrets())) for c in connections],
            "form": form or ProviderConnectionForm(),
            "new_secret": new_secret,
        },
    )


@organization_view(access=Access.READ)
def providers(request: HttpRequest) -> HttpResponse:
    return _page(request)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_create(request: HttpRequest) -> HttpResponse:
    form = ProviderConnectionForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form)
    connection, secret = services.provider_connection_create(
        organization=request.organization,
        kind=form.cleaned_data["kind"],
        name=form.cleaned_data["name"],
        setup={},
        actor=request.user,
    )
    return _page(request, new_secret=(connection, secret))


def _connection(request: HttpRequest, connection_id: int) -> ProviderConnection:
    return get_object_or_404(
        ProviderConnection.objects.for_organization(request.organization), pk=connection_id
    )


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_rotate_secret(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = _connection(request, connection_id)
    secret = services.provider_connection_rotate_secret(connection=connection, actor=request.user)
    return _page(request, new_secret=(connection, secret))


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_retire_secrets(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = _connection(request, connection_id)
    services.provider_connection_retire_old_secrets(connection=connection, actor=request.user)
    messages.success(request, f"Only the newest secret of “{connection.name}” is accepted now.")
    return redirect("providers", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_toggle(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = _connection(request, connection_id)
    services.provider_connection_set_active(
        connection=connection, active=not connection.is_active, actor=request.user
    )
    state = "enabled" if connection.is_active else "disabled: its webhooks are refused"
    messages.success(request, f"“{connection.name}” {state}.")
    return redirect("providers", org=request.organization.slug)


@organization_view(access=Access.READ)
def webhook_receipts(request: HttpRequest) -> HttpResponse:
    receipts = WebhookReceipt.objects.filter(
        organization_id=request.organization.pk
    ).select_related("connection")[:200]
    return render(request, "integrations/webhook_receipts.html", {"receipts": receipts})
