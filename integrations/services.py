"""Installing a telephony provider for an organisation, changing its setup, rotating its secret.

What a provider needs is its class's business (`integrations/provider.py`): these functions ask
the registry for the class and store what it declares, so they name no provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from integrations.models import ProviderConnection, RepSignIn, UnmatchedProspect
from integrations.provider import Capability, Provider
from integrations.registry import is_known, provider_class, provider_for
from portal.audit.services import audit_record
from portal.encryption import Secret

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.tenancy.models import Organization


@transaction.atomic
def provider_connection_create(
    *,
    organization: Organization,
    kind: str,
    name: str,
    setup: dict[str, str],
    actor: User,
) -> tuple[ProviderConnection, str | None]:
    """Returns the connection and, for a provider whose webhooks we sign with a secret we mint,
    that secret: shown once, stored encrypted."""
    if not is_known(kind):
        raise ValidationError({"kind": f"No telephony provider '{kind}' is registered."})
    provider = provider_for(kind)
    _check_setup(provider, setup)
    secret = provider.new_signing_secret() if provider.mints_signing_secret else None
    connection = ProviderConnection(
        organization=organization, kind=kind, name=name, webhook_secrets=secret or ""
    )
    connection.set_setup_values(setup)
    connection.save()
    audit_record(
        action="provider.create",
        organization=organization,
        actor=actor,
        target=connection,
        data={"kind": kind, "name": name, "setup_fields": sorted(setup)},
    )
    return connection, secret


@transaction.atomic
def provider_connection_update(
    *,
    connection: ProviderConnection,
    name: str,
    setup: dict[str, str],
    actor: User,
    log_external_calls: bool | None = None,
    unmatched_prospect: str | None = None,
) -> None:
    """`setup` holds the fields to change; a field left out keeps its saved value (how a secret
    the admin did not retype survives an edit). `log_external_calls` and `unmatched_prospect`
    (None: unchanged) say whether calls that did not start in Outreach are logged there."""
    locked = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    saved = locked.setup_values()
    values = {**saved, **setup}
    _check_setup(provider_for(locked.kind), values)
    locked.name = name
    locked.set_setup_values(values)
    if log_external_calls is not None:
        locked.log_external_calls = log_external_calls
    if unmatched_prospect is not None:
        locked.unmatched_prospect = UnmatchedProspect(unmatched_prospect)
    locked.save(update_fields=["name", "credentials", "log_external_calls", "unmatched_prospect"])
    audit_record(
        action="provider.update",
        organization=locked.organization,
        actor=actor,
        target=locked,
        # Which fields changed, never their values: some are secrets.
        data={
            "name": name,
            "changed": sorted(k for k in values if values[k] != saved.get(k)),
            "log_external_calls": locked.log_external_calls,
            "unmatched_prospect": locked.unmatched_prospect,
        },
    )


def _check_setup(provider: Provider, values: dict[str, str]) -> None:
    """The setup form checks each field; this keeps any other caller to the provider's fields."""
    declared = {field.name: field for field in provider.setup_fields}
    unknown = sorted(set(values) - set(declared))
    missing = [f.label for f in declared.values() if f.required and not values.get(f.name)]
    if unknown or missing:
        raise ValidationError(
            f"{provider.label}: unknown setup field(s) {unknown}, missing {missing}."
        )
    provider.check_setup(values)


@transaction.atomic
def provider_connection_rotate_secret(*, connection: ProviderConnection, actor: User) -> str:
    """A new signing secret, as the provider's secret policy makes it; returned to be shown once.
    Which older secrets keep verifying, and until when, is the policy's decision too."""
    locked = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    accepted = provider_for(locked.kind).rotate_signing_secrets(locked.signing_secrets())
    locked.webhook_secrets = Secret(" ".join(accepted))
    locked.save(update_fields=["webhook_secrets"])
    audit_record(
        action="provider.secret_rotate",
        organization=locked.organization,
        actor=actor,
        target=locked,
        data={"secrets_accepted": len(accepted)},
    )
    return accepted[0]


@transaction.atomic
def provider_connection_retire_old_secrets(*, connection: ProviderConnection, actor: User) -> None:
    locked = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    accepted = provider_for(locked.kind).retire_signing_secrets(locked.signing_secrets())
    locked.webhook_secrets = Secret(" ".join(accepted))
    locked.save(update_fields=["webhook_secrets"])
    audit_record(
        action="provider.secret_retire",
        organization=locked.organization,
        actor=actor,
        target=locked,
    )


def provider_connection_set_active(
    *, connection: ProviderConnection, active: bool, actor: User
) -> None:
    connection.is_active = active
    connection.save(update_fields=["is_active"])
    audit_record(
        action="provider.enable" if active else "provider.disable",
        organization=connection.organization,
        actor=actor,
        target=connection,
    )


def provider_connection_can_place_calls(*, connection: ProviderConnection) -> bool:
    return is_known(connection.kind) and provider_class(connection.kind).supports(
        Capability.PLACE_CALL
    )


@transaction.atomic
def provider_connection_set_places_calls(
    *, connection: ProviderConnection, places_calls: bool, actor: User
) -> None:
    """Make `connection` the one reps' dials go through (the previous one stops), or stop it
    placing calls. Its provider must be able to place calls."""
    if places_calls and not provider_connection_can_place_calls(connection=connection):
        raise ValidationError(f"{connection.provider_label} cannot place calls.")
    siblings = ProviderConnection.objects.for_organization(connection.organization)
    # Locked in one order, so two admins choosing at once wait for each other.
    list(siblings.select_for_update().order_by("pk").values_list("pk", flat=True))
    if places_calls:
        siblings.filter(places_calls=True).exclude(pk=connection.pk).update(places_calls=False)
    siblings.filter(pk=connection.pk).update(places_calls=places_calls)
    connection.places_calls = places_calls
    audit_record(
        action="provider.places_calls" if places_calls else "provider.stops_placing_calls",
        organization=connection.organization,
        actor=actor,
        target=connection,
    )


def rep_sign_in_save(*, connection: ProviderConnection, user: User, values: dict[str, str]) -> None:
    """A rep's own sign-in at the connection's phone system; a secret left out keeps its saved
    value. Audited without the values."""
    sign_in, _ = RepSignIn.objects.get_or_create(
        organization_id=connection.organization_id, connection=connection, user=user
    )
    sign_in.set_values({**sign_in.revealed(), **values})
    sign_in.save()
    audit_record(
        action="provider.rep_sign_in_saved",
        organization=connection.organization,
        actor=user,
        target=connection,
        data={"fields": sorted(values)},
    )


def on_member_removed(
    sender: object, organization: Organization, user: User, actor: User, **kwargs: object
) -> None:
    """A person leaving an organisation takes their sign-ins at its phone systems with them."""
    RepSignIn.objects.for_organization(organization).filter(user=user).delete()
