"""Connecting an organisation to a sandbox user without the browser dance: for demos, tests and
the benchmark. The connection is saved through the same service the OAuth callback uses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from integrations.outreach.authorization.provider import SCOPES
from integrations.outreach.models import ConnectionKind, OutreachConnection
from integrations.outreach.oauth import TokenGrant
from integrations.outreach.services import OutreachIdentity, connection_connect
from portal.encryption import Secret

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from outreach_sandbox.control import SandboxControl, UserInfo
    from portal.tenancy.models import Organization


def connect_sandbox_user(
    *,
    sandbox: SandboxControl,
    organization: Organization,
    user: UserInfo,
    actor: User,
    kind: ConnectionKind = ConnectionKind.ORGANIZATION,
    rep: User | None = None,
    scopes: Iterable[str] = SCOPES,
) -> OutreachConnection:
    # Minted "earlier": a refresh right after must not trip the one-token-per-minute rule.
    grant = sandbox.issue_token(user["id"], scopes, count_as_mint=False)
    org = next(o for o in sandbox.orgs() if o["guid"] == user["orgGuid"])
    granted = grant["scope"].split()
    return connection_connect(
        organization=organization,
        kind=kind,
        rep=rep,
        actor=actor,
        grant=TokenGrant(
            access_token=Secret(grant["access_token"]),
            refresh_token=Secret(grant["refresh_token"]),
            expires_at=timezone.now() + timedelta(seconds=grant["expires_in"]),
            scopes=granted,
        ),
        identity=OutreachIdentity(
            user_id=str(user["id"]),
            email=user["email"],
            name=f"{user['firstName']} {user['lastName']}".strip(),
            org_id=org["guid"],
            org_name=org["name"],
            scopes=granted,
        ),
    )
