"""Outreach's pieces of pages owned by others: the reconnect banner (base.html) and a rep's own
connections (the settings page)."""

from __future__ import annotations

from typing import Any

from django import template

from integrations.outreach.models import ConnectionKind, OutreachConnection, OutreachOrg
from integrations.outreach.selectors import connections_needing_reauth_for
from portal.tenancy.models import Membership, Role

register = template.Library()


@register.inclusion_tag("outreach/reauth_banner.html", takes_context=True)
def outreach_reauth_banner(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"connections": []}
    return {"connections": list(connections_needing_reauth_for(user=user)), "user": user}


@register.inclusion_tag("outreach/my_connections.html", takes_context=True)
def outreach_my_connections(context: template.Context) -> dict[str, Any]:
    user = context["request"].user
    memberships = Membership.objects.filter(user=user).select_related("organization")
    connections = {
        c.organization_id: c
        for c in OutreachConnection.objects.filter(user=user, kind=ConnectionKind.USER)
    }
    bound = set(
        OutreachOrg.objects.filter(
            organization__in=[m.organization_id for m in memberships]
        ).values_list("organization_id", flat=True)
    )
    return {
        # Whether the person may connect: only an admin binds an organisation to an Outreach org
        # (services.connection_connect), so a rep waits until one has.
        "rows": [
            (
                m.organization,
                connections.get(m.organization_id),
                m.organization_id in bound or m.role == Role.ADMIN,
            )
            for m in memberships
        ],
        "csrf_token": context.get("csrf_token"),
    }
