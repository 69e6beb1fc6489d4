"""Installing a telephony provider for an organisation, and rotating its signing secret."""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING

from django.db import transaction

from integrations.models import ProviderConnection
from portal.audit.services import audit_record
from portal.encryption import Secret

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from portal.tenancy.models import Organization


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def provider_connection_create(
    *, organization: Organization, kind: str, name: str, actor: AbstractBaseUser
) -> tuple[ProviderConnection, str]:
    """Returns the connection and its signing secret, which is shown once and stored encrypted."""
    secret = new_signing_secret()
    connection = ProviderConnection.objects.create(
        organization=organization, kind=kind, name=name, webhook_secrets=secret
    )
    audit_record(
        action="provider.create",
        organization=organization,
        actor=actor,
        target=connection,
        data={"kind": kind, "name": name},
    )
    return connection, secret


@transaction.atomic
def provider_connection_rotate_secret(
    *, connection: ProviderConnection, actor: AbstractBaseUser
) -> str:
    """A new secret signs from now on; the previous ones keep verifying until retired, so the
    provider can switch over without losing a webhook."""
    locked = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    secret = new_signing_secret()
    locked.webhook_secrets = Secret(" ".join([secret, *locked.signing_secrets()]))
    locked.save(update_fields=["webhook_secrets"])
    audit_record(
        action="provider.secret_rotate",
        organization=locked.organization,
        actor=actor,
        target=locked,
        data={"secrets_accepted": len(locked.signing_secrets())},
    )
    return secret


@transaction.atomic
def provider_connection_retire_old_secrets(
    *, connection: ProviderConnection, actor: AbstractBaseUser
) -> None:
    locked = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    newest = locked.signing_secrets()[:1]
    locked.webhook_secrets = Secret(" ".join(newest))
    locked.save(update_fields=["webhook_secrets"])
    audit_record(
        action="provider.secret_retire",
        organization=locked.organization,
        actor=actor,
        target=locked,
    )


def provider_connection_set_active(
    *, connection: ProviderConnection, active: bool, actor: AbstractBaseUser
) -> None:
    connection.is_active = active
    connection.save(update_fields=["is_active"])
    audit_record(
        action="provider.enable" if active else "provider.disable",
        organization=connection.organization,
        actor=actor,
        target=connection,
    )
