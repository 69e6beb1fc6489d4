"""The organisation's telephony providers and the webhooks we refused from them.

The pages name no provider: the chooser lists the registry, the setup form is built from the
chosen provider's `setup_fields`, and secret handling follows its `mints_signing_secret`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render

from integrations import services
from integrations.forms import ProviderConnectionForm, RepSignInForm
from integrations.models import ProviderConnection, RepSignIn, WebhookReceipt
from integrations.provider import Provider
from integrations.registry import is_known, provider_choices, provider_class, provider_for
from portal.once import once_spent, once_token
from portal.tenancy.access import OrganizationRequest, organization_view
from portal.tenancy.models import Access, Role


@dataclass(frozen=True)
class ConnectionRow:
    connection: ProviderConnection
    webhook_url: str
    mints_signing_secret: bool  # False too when its provider is no longer registered
    secrets_accepted: int
    can_place_calls: bool


def sees_webhook_details(request: OrganizationRequest) -> bool:
    """Webhook URLs carry the connection's token (anyone holding one can knock with it) and
    refused bodies may carry callers' numbers: admins, support and platform staff see them,
    reps do not."""
    membership = request.membership
    return membership is None or membership.role in (Role.ADMIN, Role.SUPPORT)


def _chosen_provider(kind: str | None) -> type[Provider]:
    """The provider the setup form is for: the one asked for, else the registry's first."""
    return provider_class(kind if kind and is_known(kind) else provider_choices()[0][0])


def _page(
    request: OrganizationRequest,
    *,
    new_secret: tuple[ProviderConnection, str] | None = None,
    form: ProviderConnectionForm | None = None,
) -> HttpResponse:
    chosen = form.provider if form else _chosen_provider(request.GET.get("kind"))
    rows = []
    for connection in ProviderConnection.objects.for_organization(request.organization):
        mints = is_known(connection.kind) and provider_class(connection.kind).mints_signing_secret
        rows.append(
            ConnectionRow(
                connection=connection,
                webhook_url=connection.webhook_url(),
                mints_signing_secret=mints,
                secrets_accepted=len(connection.signing_secrets()),
                can_place_calls=services.provider_connection_can_place_calls(connection=connection),
            )
        )
    return render(
        request,
        "integrations/providers.html",
        {
            "rows": rows,
            "sees_webhook_details": sees_webhook_details(request),
            "provider_choices": provider_choices(),
            "chosen": chosen(),
            "form": form or ProviderConnectionForm(provider=chosen),
            "new_secret": new_secret,
            "once": once_token(),
        },
    )


@organization_view(access=Access.READ)
def providers(request: OrganizationRequest) -> HttpResponse:
    return _page(request)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_create(request: OrganizationRequest) -> HttpResponse:
    if once_spent(request):  # the page showing a new secret, reloaded: nothing is created
        messages.info(request, "That form was already sent: no second connection was created.")
        return redirect("providers", org=request.organization.slug)
    form = ProviderConnectionForm(request.POST, provider=_chosen_provider(request.POST.get("kind")))
    if not form.is_valid():
        return _page(request, form=form)
    connection, secret = services.provider_connection_create(
        organization=request.organization,
        kind=form.cleaned_data["kind"],
        name=form.cleaned_data["name"],
        setup=form.setup_values(),
        actor=request.user,
    )
    if secret is not None:
        return _page(request, new_secret=(connection, secret))
    messages.success(
        request, f"“{connection.name}” created: give your phone system its webhook URL below."
    )
    return redirect("providers", org=request.organization.slug)


def _connection(request: OrganizationRequest, connection_id: int) -> ProviderConnection:
    return get_object_or_404(
        ProviderConnection.objects.for_organization(request.organization), pk=connection_id
    )


def _provider_of(connection: ProviderConnection) -> Provider:
    if not is_known(connection.kind):
        raise Http404(f"The provider '{connection.kind}' is no longer registered.")
    return provider_for(connection.kind)


@organization_view(access=Access.CONFIGURATION, methods=("GET", "POST"))
def provider_edit(request: OrganizationRequest, connection_id: int) -> HttpResponse:
    connection = _connection(request, connection_id)
    provider = _provider_of(connection)
    form = ProviderConnectionForm(
        request.POST or None, provider=type(provider), connection=connection
    )
    if request.method == "POST" and form.is_valid():
        services.provider_connection_update(
            connection=connection,
            name=form.cleaned_data["name"],
            setup=form.setup_values(),
            actor=request.user,
            **form.logging_choices(),
        )
        messages.success(request, f"“{form.cleaned_data['name']}” saved.")
        return redirect("providers", org=request.organization.slug)
    return render(
        request,
        "integrations/provider_edit.html",
        {
            "connection": connection,
            "provider": provider,
            "webhook_url": connection.webhook_url(),
            "form": form,
        },
    )


def _minting_connection(request: OrganizationRequest, connection_id: int) -> ProviderConnection:
    """A connection whose webhooks are signed with secrets we mint; others have none to rotate."""
    connection = _connection(request, connection_id)
    if not _provider_of(connection).mints_signing_secret:
        raise Http404("This connection's provider signs with its own credentials.")
    return connection


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_rotate_secret(request: OrganizationRequest, connection_id: int) -> HttpResponse:
    connection = _minting_connection(request, connection_id)
    secret = services.provider_connection_rotate_secret(connection=connection, actor=request.user)
    return _page(request, new_secret=(connection, secret))


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_retire_secrets(request: OrganizationRequest, connection_id: int) -> HttpResponse:
    connection = _minting_connection(request, connection_id)
    services.provider_connection_retire_old_secrets(connection=connection, actor=request.user)
    messages.success(request, f"Only the newest secret of “{connection.name}” is accepted now.")
    return redirect("providers", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_toggle(request: OrganizationRequest, connection_id: int) -> HttpResponse:
    connection = _connection(request, connection_id)
    services.provider_connection_set_active(
        connection=connection, active=not connection.is_active, actor=request.user
    )
    state = "enabled" if connection.is_active else "disabled: its webhooks are refused"
    messages.success(request, f"“{connection.name}” {state}.")
    return redirect("providers", org=request.organization.slug)


@organization_view(access=Access.CONFIGURATION, methods=("POST",))
def provider_places_calls(request: OrganizationRequest, connection_id: int) -> HttpResponse:
    """Reps' click-to-dial goes through this connection from now on (or no longer)."""
    connection = _connection(request, connection_id)
    if not services.provider_connection_can_place_calls(connection=connection):
        raise Http404("This connection's provider cannot place calls.")
    services.provider_connection_set_places_calls(
        connection=connection, places_calls=not connection.places_calls, actor=request.user
    )
    if connection.places_calls:
        messages.success(request, f"Reps' calls are placed through “{connection.name}”.")
    else:
        messages.success(request, f"“{connection.name}” no longer places calls.")
    return redirect("providers", org=request.organization.slug)


@organization_view(access=Access.READ)
def webhook_receipts(request: OrganizationRequest) -> HttpResponse:
    receipts = WebhookReceipt.objects.filter(
        organization_id=request.organization.pk
    ).select_related("connection")[:200]
    return render(
        request,
        "integrations/webhook_receipts.html",
        {"receipts": receipts, "sees_webhook_details": sees_webhook_details(request)},
    )


@organization_view(access=Access.READ, methods=("GET", "POST"))
def provider_my_sign_in(request: OrganizationRequest, connection_id: int) -> HttpResponse:
    """A rep's own sign-in at a connection's phone system (its provider's `rep_fields`): any
    member gives their own; nobody sees or changes another's."""
    connection = _connection(request, connection_id)
    provider = _provider_of(connection)
    # Platform staff visiting an organisation read it only: they have no sign-in of their own.
    form = None
    if provider.rep_fields and request.membership is not None:
        saved = RepSignIn.objects.filter(connection=connection, user=request.user).first()
        form = RepSignInForm(
            request.POST or None,
            provider=type(provider),
            saved=saved.revealed() if saved is not None else {},
        )
    if request.method == "POST":
        if form is None:
            return HttpResponseForbidden("Nothing of yours to save here.")
        if form.is_valid():
            services.rep_sign_in_save(
                connection=connection, user=request.user, values=form.values()
            )
            messages.success(request, f"Your sign-in at “{connection.name}” is saved.")
            return redirect("user_settings")
    return render(
        request,
        "integrations/my_sign_in.html",
        {"connection": connection, "form": form, "needs_sign_in": bool(provider.rep_fields)},
    )
