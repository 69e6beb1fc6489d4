"""The telephony providers' piece of a page owned by others: a rep's own sign-ins at the phone
systems that place their calls (the settings page)."""

from __future__ import annotations

from typing import Any

from django import template

from integrations.models import ProviderConnection, RepSignIn
from integrations.registry import is_known, provider_class
from portal.tenancy.models import Membership

register = template.Library()


@register.inclusion_tag("integrations/my_sign_ins.html", takes_context=True)
def provider_my_sign_ins(context: template.Context) -> dict[str, Any]:
    user = context["request"].user
    organizations = Membership.objects.filter(user=user).values_list("organization_id")
    connections = [
        connection
        for connection in ProviderConnection.objects.filter(organization__in=organizations)
        .select_related("organization")
        .order_by("organization__name", "name")
        if is_known(connection.kind) and provider_class(connection.kind).rep_fields
    ]
    saved = {
        sign_in.connection_id: sign_in.updated
        for sign_in in RepSignIn.objects.filter(user=user, connection__in=connections)
    }
    return {"rows": [(connection, saved.get(connection.pk)) for connection in connections]}
