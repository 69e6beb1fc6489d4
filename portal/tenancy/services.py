"""Writes that change who belongs to which organisation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from portal.audit.services import audit_record
from portal.tenancy.models import (
    INVITATION_LIFETIME,
    Invitation,
    Membership,
    Organization,
    Role,
    hash_token,
)
from portal.tenancy.signals import member_removed

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class InvitationError(Exception):
    """An invitation link that cannot be used; the message is shown to the person."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_create(*, name: str, owner: User, default_region: str = "US") -> Organization:
    organization = Organization.objects.create(
        name=name, slug=_unique_slug(name), default_region=default_region
    )
    Membership.objects.create(organization=organization, user=owner, role=Role.ADMIN)
    audit_record(
        action="organization.create", organization=organization, actor=owner, target=organization
    )
    return organization


def organization_update(
    *, organization: Organization, actor: User, **values: object
) -> Organization:
    """Change the organisation's settings (`OrganizationForm`'s fields), audited field by field."""
    changes = {
        field: [getattr(organization, field), value]
        for field, value in values.items()
        if getattr(organization, field) != value
    }
    for field, value in values.items():
        setattr(organization, field, value)
    organization.save(update_fields=list(values))
    audit_record(
        action="organization.update",
        organization=organization,
        actor=actor,
        target=organization,
        data={"changes": changes},
    )
    return organization


def organization_revoke_recording_links(*, organization: Organization, actor: User) -> None:
    """Every recording and voicemail link the organisation gave out stops working, those
    already in Outreach included; links made from now on work."""
    Organization.objects.filter(pk=organization.pk).update(
        recording_links_generation=F("recording_links_generation") + 1
    )
    organization.refresh_from_db(fields=["recording_links_generation"])
    audit_record(
        action="organization.recording_links_revoked",
        organization=organization,
        actor=actor,
        target=organization,
        data={"generation": organization.recording_links_generation},
    )


def invitation_create(
    *, organization: Organization, email: str, role: Role, invited_by: User
) -> Invitation:
    """Create an invitation and email its link (allauth's mailer; console backend in DEBUG)."""
    email = email.strip().lower()
    if Membership.objects.for_organization(organization).filter(user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {organization}.")
    token = Invitation.new_token()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            token_hash=hash_token(token),
            invited_by=invited_by,
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        audit_record(
            action="invitation.create",
            organization=organization,
            actor=invited_by,
            target=invitation,
            target_label=email,
            data={"role": role},
        )
    accept_url = settings.PUBLIC_BASE_URL + reverse("invitation_accept", args=[token])
    get_adapter().send_mail(
        "tenancy/email/invitation",
        email,
        {
            "organization": organization,
            "inviter": invited_by,
            "accept_url": accept_url,
            "role": invitation.get_role_display(),
            "expires_at": invitation.expires_at,
        },
    )
    return invitation


def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action="invitation.revoke",
            organization=invitation.organization,
            actor=actor,
            target=invitation,
            target_label=invitation.email,
        )


def invitation_find(*, token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("organization")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid.", status=404)
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.", status=410)
    if invitation.revoked_at is not None:
        raise InvitationError("This invitation was withdrawn by an admin.", status=410)
    if invitation.expires_at <= timezone.now():
        raise InvitationError(
            "This invitation has expired; ask an admin for a new one.", status=410
        )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_find(token=token)
    # Lock the row so the same link clicked twice at once still yields one membership.
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used.", status=410)
    if user.email.lower() != invitation.email.lower():
        raise InvitationError(
            f"This invitation was sent to {invitation.email}; you are signed in as {user.email}.",
            status=403,
        )
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(
        action="invitation.accept",
        organization=invitation.organization,
        actor=user,
        target=membership,
        data={"role": membership.role, "new": created},
    )
    return membership


def _ensure_an_admin_remains(membership: Membership, *, new_role: str | None) -> None:
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return
    admins = Membership.objects.for_organization(membership.organization).filter(role=Role.ADMIN)
    if admins.exclude(pk=membership.pk).count() == 0:
        raise ValidationError("An organisation needs at least one admin.")


@transaction.atomic
def membership_set_role(*, membership: Membership, role: Role, actor: User) -> Membership:
    _ensure_an_admin_remains(membership, new_role=role)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="membership.role",
        organization=membership.organization,
        actor=actor,
        target=membership,
        target_label=membership.user.email,
        data={"from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    _ensure_an_admin_remains(membership, new_role=None)
    audit_record(
        action="membership.remove",
        organization=membership.organization,
        actor=actor,
        target=membership,
        target_label=membership.user.email,
        data={"role": membership.role},
    )
    membership.delete()
    member_removed.send(
        sender=Membership, organization=membership.organization, user=membership.user, actor=actor
    )
