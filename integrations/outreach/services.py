"""Writes to Outreach connections: connecting, disconnecting, and refreshing tokens.

Refreshing is the delicate part. Outreach rotates the refresh token on every refresh (the old one
stops working) and mints at most one access token per user per minute, so two workers refreshing
the same connection at once would lose one of the grants or be refused. Every refresh therefore
runs under the connection's row lock (SELECT ... FOR UPDATE), re-checks whether it is still
needed once it holds the lock (another worker may just have refreshed), and stores the new tokens
in the same, durable transaction: it commits as soon as the token endpoint answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import IntegrityError, OperationalError, transaction
from django.db import connection as database
from django.utils import timezone

from integrations.outreach.errors import (
    ConnectionUnusable,
    OutreachError,
    TokenEndpointFailing,
    TokenRefused,
)
from integrations.outreach.models import (
    ConnectionKind,
    ConnectionStatus,
    OutcomeWords,
    OutreachConnection,
    OutreachOrg,
)
from integrations.outreach.oauth import TokenGrant, refresh_grant
from integrations.outreach.selectors import connection_is_usable
from integrations.outreach.signals import connection_reactivated
from portal.audit.services import audit_record
from portal.encryption import Secret
from portal.tenancy.models import Membership, Organization, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# How long a worker waits for another worker's refresh. Longer than the token request's own
# timeout (oauth.TOKEN_TIMEOUT), so a waiting worker always sees the refresh end.
REFRESH_LOCK_TIMEOUT = "20s"


@dataclass(frozen=True)
class OutreachIdentity:
    """Who authorised us, as Outreach's `GET /api/v2` reports it."""

    user_id: str
    email: str
    name: str
    org_id: str
    org_name: str
    scopes: list[str]


class ConnectRefused(Exception):
    """A connection that cannot be saved; the message is shown to the person connecting."""


@transaction.atomic
def connection_connect(
    *,
    organization: Organization,
    kind: ConnectionKind,
    rep: User | None,
    actor: User,
    grant: TokenGrant,
    identity: OutreachIdentity,
) -> OutreachConnection:
    """Save (or renew) a connection from a completed authorisation. All or nothing."""
    # One connect at a time per organisation, so the Outreach org checks below cannot race.
    Organization.objects.select_for_update().get(pk=organization.pk)
    _link_outreach_org(organization=organization, identity=identity, actor=actor)
    owner = rep if kind == ConnectionKind.USER else None
    _refuse_duplicate_rep(organization=organization, rep=owner, identity=identity)
    existing = (
        OutreachConnection.objects.for_organization(organization)
        .select_for_update()
        .filter(kind=kind, user=owner)
        .first()
    )
    previous_status = existing.status if existing is not None else None
    connection_row = existing or OutreachConnection(
        organization=organization, kind=kind, user=owner
    )
    now = timezone.now()
    connection_row.outreach_user_id = identity.user_id
    connection_row.outreach_email = identity.email
    connection_row.outreach_name = identity.name
    connection_row.outreach_org_id = identity.org_id
    connection_row.scopes = grant.scopes or identity.scopes
    connection_row.access_token = grant.access_token
    connection_row.refresh_token = grant.refresh_token
    connection_row.expires_at = grant.expires_at
    connection_row.status = ConnectionStatus.ACTIVE
    connection_row.status_changed_at = now
    connection_row.status_reason = ""
    connection_row.connected_by = actor
    connection_row.connected_at = now
    connection_row.refreshed_at = None
    connection_row.save()
    audit_record(
        action="outreach.connect" if existing is None else "outreach.reconnect",
        organization=organization,
        actor=actor,
        target=connection_row,
        data={
            "kind": kind,
            "outreach_user_id": identity.user_id,
            "outreach_email": identity.email,
            "outreach_org_id": identity.org_id,
            "scopes": connection_row.scopes,
            "previous_status": previous_status,
        },
    )
    if previous_status != ConnectionStatus.ACTIVE:
        transaction.on_commit(
            lambda: connection_reactivated.send(
                sender=OutreachConnection,
                connection=connection_row,
                previous_status=previous_status,
            )
        )
    return connection_row


def _link_outreach_org(
    *, organization: Organization, identity: OutreachIdentity, actor: User
) -> None:
    link = OutreachOrg.objects.filter(organization=organization).first()
    if link is not None:
        if link.outreach_org_id != identity.org_id:
            raise ConnectRefused(
                f"{organization} works with the Outreach org “{link}”, but {identity.email} "
                f"belongs to another Outreach org. Sign in to Outreach with an account of “{link}”."
            )
        return
    # Binding decides which Outreach org every call of the organisation goes to, and an Outreach
    # org can be bound only once: only an admin may do it, whichever connection they make. A
    # rep's own connection joins the Outreach org an admin chose.
    is_admin = (
        Membership.objects.for_organization(organization)
        .filter(user=actor, role=Role.ADMIN)
        .exists()
    )
    if not is_admin:
        raise ConnectRefused(
            f"{organization} is not connected to an Outreach org yet: an admin connects it first "
            "on the organisation's Outreach page, then you can connect your own Outreach user."
        )
    already_taken = ConnectRefused(
        f"The Outreach org “{identity.org_name or identity.org_id}” is already connected to "
        "another Callbridge organisation. An Outreach org can be connected to only one."
    )
    if OutreachOrg.objects.filter(outreach_org_id=identity.org_id).exists():
        raise already_taken
    try:
        with transaction.atomic():
            OutreachOrg.objects.create(
                organization=organization,
                outreach_org_id=identity.org_id,
                name=identity.org_name,
            )
    except IntegrityError:  # another organisation linked it a moment ago
        raise already_taken from None


def _refuse_duplicate_rep(
    *, organization: Organization, rep: User | None, identity: OutreachIdentity
) -> None:
    if rep is None:
        return
    other = (
        OutreachConnection.objects.for_organization(organization)
        .filter(kind=ConnectionKind.USER, outreach_user_id=identity.user_id)
        .exclude(user=rep)
        .exclude(status=ConnectionStatus.REVOKED)
        .select_related("user")
        .first()
    )
    if other is not None:
        raise ConnectRefused(
            f"The Outreach user {identity.email} is already connected by {other.user.email}."
        )


@transaction.atomic
def connection_disconnect(*, connection: OutreachConnection, actor: User, reason: str = "") -> None:
    """Stop using a connection and forget its tokens. The row stays, for the history."""
    connection.access_token = Secret("")
    connection.refresh_token = Secret("")
    _set_status(connection, ConnectionStatus.REVOKED, reason or f"Disconnected by {actor.email}.")
    connection.save()
    remaining = (
        OutreachConnection.objects.for_organization(connection.organization)
        .exclude(status=ConnectionStatus.REVOKED)
        .exists()
    )
    if not remaining:
        # Nothing of this organisation uses the Outreach org any more: free it for another one.
        OutreachOrg.objects.filter(organization=connection.organization).delete()
    audit_record(
        action="outreach.disconnect",
        organization=connection.organization,
        actor=actor,
        target=connection,
        data={
            "kind": connection.kind,
            "outreach_user_id": connection.outreach_user_id,
            "reason": connection.status_reason,
        },
    )


def on_member_removed(
    sender: object,
    organization: Organization,
    user: User,
    actor: User,
    **kwargs: object,
) -> None:
    connections_disconnect_member(organization=organization, user=user, actor=actor)


def connections_disconnect_member(*, organization: Organization, user: User, actor: User) -> None:
    """A person leaving an organisation takes their own Outreach user with them: their calls
    then go out with the organisation's connection (selectors.connection_for_call)."""
    own = (
        OutreachConnection.objects.for_organization(organization)
        .filter(kind=ConnectionKind.USER, user=user)
        .exclude(status=ConnectionStatus.REVOKED)
        .first()
    )
    if own is not None:
        connection_disconnect(
            connection=own,
            actor=actor,
            reason=f"{user.email} left {organization} (removed by {actor.email}).",
        )


class MoveRefused(Exception):
    """An Outreach org that cannot be moved; the message says why."""


@transaction.atomic
def outreach_org_move(
    *, outreach_org: OutreachOrg, to: Organization, actor: User, reason: str
) -> int:
    """Platform staff's repair of an Outreach org bound to the wrong organisation: the link moves
    to `to`, and every connection the old organisation made to it is disconnected (its tokens
    were granted to the wrong tenant), so its calls stop reaching that Outreach org at once. The
    new organisation's admin then connects. Audited in both organisations. Returns how many
    connections were disconnected."""
    source = outreach_org.organization
    if to.pk == source.pk:
        raise MoveRefused(f"The Outreach org “{outreach_org}” already belongs to {to}.")
    # Both organisations locked, in a fixed order, as a connect locks its organisation.
    list(Organization.objects.select_for_update().filter(pk__in=[source.pk, to.pk]).order_by("pk"))
    if OutreachOrg.objects.filter(organization=to).exists():
        raise MoveRefused(
            f"{to} is already connected to an Outreach org; an admin of {to} disconnects it first."
        )
    OutreachOrg.objects.filter(pk=outreach_org.pk).update(organization=to)
    outreach_org.refresh_from_db()
    moved_away = (
        OutreachConnection.objects.for_organization(source)
        .exclude(status=ConnectionStatus.REVOKED)
        .order_by("pk")
    )
    disconnected = 0
    for connection_row in moved_away:
        connection_disconnect(
            connection=connection_row,
            actor=actor,
            reason=f"The Outreach org “{outreach_org}” was moved to another organisation by "
            f"platform staff ({actor.email}).",
        )
        disconnected += 1
    data = {
        "outreach_org_id": outreach_org.outreach_org_id,
        "outreach_org_name": outreach_org.name,
        "from_organization": {"id": source.pk, "name": source.name},
        "to_organization": {"id": to.pk, "name": to.name},
        "connections_disconnected": disconnected,
        "reason": reason,
    }
    for organization, action in (
        (source, "outreach.org_moved_away"),
        (to, "outreach.org_moved_in"),
    ):
        audit_record(
            action=action, organization=organization, actor=actor, target=outreach_org, data=data
        )
    return disconnected


def connection_access_token(*, connection: OutreachConnection) -> Secret:
    """A valid access token, refreshed first when it expires within REFRESH_MARGIN."""
    if not connection_is_usable(connection=connection):
        raise _unusable(connection)
    if connection.expires_soon():
        try:
            connection_refresh(connection=connection)
        except OutreachError as error:
            # A transient failure while the token still has minutes to live: use it; the next
            # request tries again. Anything else stops here.
            if error.permanent or isinstance(error, ConnectionUnusable):
                raise
            if connection.expires_at <= timezone.now():
                raise
            logger.warning("outreach.refresh_deferred connection=%s error=%s", connection.pk, error)
    return connection.access_token


def connection_refresh(
    *, connection: OutreachConnection, stale_access_token: Secret | None = None
) -> None:
    """Refresh under the row lock, then reload `connection` with what is stored.

    Without `stale_access_token`: refresh if the token expires soon. With it (after a 401):
    refresh unless the stored token already differs from it, i.e. someone else refreshed.
    Raises ConnectionUnusable when Outreach refuses the grant (the connection is then marked
    `needs_reauth`), OutreachError for anything transient.
    """
    refused: TokenRefused | None = None
    failing: TokenEndpointFailing | None = None
    try:
        # Durable: the new refresh token must be committed now, never inside a caller's
        # transaction that might roll back and lose it (Outreach already voided the old one).
        with transaction.atomic(durable=True):
            if database.vendor == "postgresql":
                with database.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{REFRESH_LOCK_TIMEOUT}'")
            locked = OutreachConnection.objects.select_for_update().get(pk=connection.pk)
            if connection_is_usable(connection=locked) and (
                locked.access_token == stale_access_token
                if stale_access_token is not None
                else locked.expires_soon()
            ):
                try:
                    grant = refresh_grant(refresh_token=locked.refresh_token)
                except TokenEndpointFailing as error:
                    failing = error
                    _note_token_trouble(locked, str(error))
                except TokenRefused as error:
                    refused = error
                    _set_status(locked, ConnectionStatus.NEEDS_REAUTH, error.detail or str(error))
                    locked.save(update_fields=["status", "status_changed_at", "status_reason"])
                    audit_record(
                        action="outreach.needs_reauth",
                        organization=locked.organization,
                        target=locked,
                        data={"kind": locked.kind, "error_id": error.error_id},
                    )
                else:
                    locked.access_token = grant.access_token
                    locked.refresh_token = grant.refresh_token
                    locked.expires_at = grant.expires_at
                    if grant.scopes:
                        locked.scopes = grant.scopes
                    locked.refreshed_at = timezone.now()
                    locked.token_error, locked.token_error_since = "", None
                    locked.save(
                        update_fields=[
                            "access_token",
                            "refresh_token",
                            "expires_at",
                            "scopes",
                            "refreshed_at",
                            "token_error",
                            "token_error_since",
                        ]
                    )
                    logger.info("outreach.refreshed connection=%s", locked.pk)
    except OperationalError as error:  # lock_timeout: the other worker's refresh hangs
        raise OutreachError(
            "Another worker's token refresh did not finish in time.", permanent=False
        ) from error
    connection.refresh_from_db()
    if failing is not None:
        raise failing
    if refused is not None:
        raise _unusable(connection, attempts=refused.attempts) from refused
    if not connection_is_usable(connection=connection):
        raise _unusable(connection)


def _note_token_trouble(row: OutreachConnection, error: str) -> None:
    """Keep the token endpoint's trouble where platform staff see it; the work waits and
    retries (TokenEndpointFailing is transient), so nothing else changes."""
    logger.warning("outreach.token_endpoint_failing connection=%s error=%s", row.pk, error)
    if not row.token_error:
        row.token_error_since = timezone.now()
    row.token_error = error[:300]
    row.save(update_fields=["token_error", "token_error_since"])


def _set_status(row: OutreachConnection, status: ConnectionStatus, reason: str) -> None:
    row.status = status
    row.status_changed_at = timezone.now()
    row.status_reason = reason[:300]


_WHY_UNUSABLE = {
    ConnectionStatus.NEEDS_REAUTH: "needs reconnecting: Outreach refused to renew its token",
    ConnectionStatus.REVOKED: "was disconnected",
}


def _unusable(row: OutreachConnection, **kwargs: object) -> ConnectionUnusable:
    who = row.outreach_email or row.outreach_user_id
    why = _WHY_UNUSABLE.get(ConnectionStatus(row.status), "is not usable")
    return ConnectionUnusable(
        f"The Outreach connection of {who} {why}.",
        connection_id=row.pk,
        **kwargs,
    )


def outreach_org_outcome_words(*, outreach_org_id: str) -> OutcomeWords:
    """The words this Outreach org took last for a logged call's outcome (the reference's until
    it refuses them)."""
    words = (
        OutreachOrg.objects.filter(outreach_org_id=outreach_org_id)
        .values_list("outcome_words", flat=True)
        .first()
    )
    return OutcomeWords(words) if words else OutcomeWords.REFERENCE


def outreach_org_outcome_words_learn(*, outreach_org_id: str, words: OutcomeWords) -> None:
    OutreachOrg.objects.filter(outreach_org_id=outreach_org_id).update(outcome_words=words)
