"""Reads about Outreach connections, among them the one rule of whose token a call uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from integrations.outreach.errors import ConnectionUnusable
from integrations.outreach.models import (
    ConnectionKind,
    ConnectionStatus,
    OutreachConnection,
)
from portal.tenancy.models import Membership, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.tenancy.models import Organization


def connection_is_usable(*, connection: OutreachConnection) -> bool:
    """Whether requests may be made with this connection now (the pipeline holds work if not)."""
    return connection.status == ConnectionStatus.ACTIVE


def organization_connection(*, organization: Organization) -> OutreachConnection | None:
    return (
        OutreachConnection.objects.for_organization(organization)
        .filter(kind=ConnectionKind.ORGANIZATION)
        .first()
    )


def user_connection(*, organization: Organization, user: User) -> OutreachConnection | None:
    return (
        OutreachConnection.objects.for_organization(organization)
        .filter(kind=ConnectionKind.USER, user=user)
        .first()
    )


@dataclass(frozen=True)
class CallConnection:
    connection: OutreachConnection
    # Whom the call is logged for in Outreach (the `user` relationship); None when the owner's
    # Outreach user is not known yet (the caller may look it up by email).
    outreach_user_id: str | None


def connection_for_call(
    *,
    organization: Organization,
    owner: User | None = None,
    outreach_user_id: str | None = None,
) -> CallConnection:
    """The connection a call's updates go out with, and the Outreach user to name.

    The owner's own connection when it is active (Outreach then logs the call as the rep's own
    action); otherwise the organisation's connection, naming the owner in the `user`
    relationship. Raises ConnectionUnusable when neither is usable: the work is held until a
    reconnection fires `connection_reactivated`.
    """
    own = None
    if owner is not None:
        own = user_connection(organization=organization, user=owner)
    elif outreach_user_id is not None:
        own = (
            OutreachConnection.objects.for_organization(organization)
            .filter(kind=ConnectionKind.USER, outreach_user_id=outreach_user_id)
            .exclude(status=ConnectionStatus.REVOKED)
            .first()
        )
    # An explicit Outreach user id wins; else the one the owner's connection (in any state) knew.
    named = outreach_user_id or (own.outreach_user_id if own is not None else None)
    if own is not None and connection_is_usable(connection=own):
        return CallConnection(own, own.outreach_user_id)
    shared = organization_connection(organization=organization)
    if shared is not None and connection_is_usable(connection=shared):
        return CallConnection(shared, named)
    held_by = own or shared
    raise ConnectionUnusable(
        f"No usable Outreach connection for this call in {organization}: "
        + ("it must be reconnected." if held_by is not None else "Outreach is not connected."),
        connection_id=held_by.pk if held_by is not None else None,
    )


def connections_needing_reauth_for(*, user: User) -> QuerySet[OutreachConnection]:
    """What the banner lists: the person's own connections, and every connection of the
    organisations they administer, that Outreach stopped accepting."""
    administered = Membership.objects.filter(user=user, role=Role.ADMIN).values("organization")
    return (
        OutreachConnection.objects.filter(status=ConnectionStatus.NEEDS_REAUTH)
        .filter(Q(user=user) | Q(organization__in=administered))
        .select_related("organization", "user")
        .order_by("organization__name", "kind")
    )
