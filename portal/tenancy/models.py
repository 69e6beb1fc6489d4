"""Organisations are the tenants; every tenant-owned row points at one.

Every tenant-owned model derives from `OrganizationOwned`, whose manager offers the one way to
scope a query: `Model.objects.for_organization(org)`. Views never query tenant data otherwise.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    SUPPORT = "support", "Support"
    MEMBER = "member", "Member"


class Access(models.TextChoices):
    """What a view does, declared on it with `@organization_view(access=...)`."""

    READ = "read", "Read"
    OPERATIONAL = "operational", "Operational action"
    CONFIGURATION = "configuration", "Configuration"


# Who may do what. Platform staff who are not members get READ only (and are audited).
ROLE_ACCESS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset({Access.READ, Access.OPERATIONAL, Access.CONFIGURATION}),
    Role.SUPPORT: frozenset({Access.READ, Access.OPERATIONAL}),
    Role.MEMBER: frozenset({Access.READ}),
}
STAFF_ACCESS: frozenset[str] = frozenset({Access.READ})

# Audit entries younger than this are never deleted: the database's append-only trigger refuses
# it even to retention (portal/audit/migrations/0003), whatever an organisation chose.
MINIMUM_AUDIT_RETENTION_DAYS = 30


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # Numbers from providers often come without a country code; they are read in this region.
    default_region = models.CharField(
        max_length=2, default="US", help_text="ISO 3166 country code, e.g. US, GB, DE."
    )
    # How long a final state waits after the event that decided it arrived, for events that
    # happened earlier but are still on their way (a provider's retry, another leg's callback).
    settle_seconds = models.PositiveSmallIntegerField(
        default=5,
        help_text="Seconds a call's final state waits for earlier events still on their way.",
    )
    # A call the provider never finishes is closed by Callbridge this long after its last event,
    # and delivery to Outreach stops retrying an hour after that.
    give_up_hours = models.PositiveSmallIntegerField(
        default=4,
        help_text="Hours after a call's last event before Callbridge closes it and stops retrying.",
    )
    # Retention (retention/services.py, run by beat): a finished call older than this is deleted
    # with its events and its requests to Outreach; audit entries older than theirs are too.
    call_retention_days = models.PositiveSmallIntegerField(
        default=90,
        help_text="Days a finished call is kept, with what the provider sent and what was sent "
        "to Outreach.",
    )
    audit_retention_days = models.PositiveSmallIntegerField(
        default=365, help_text="Days the organisation's audit trail is kept."
    )
    # Recording and voicemail links we give Outreach (integrations/twilio/links.py): whether
    # playing one needs a portal sign-in as a member, and the generation every link carries;
    # revoking all links moves it on, so every link already given out stops working.
    recording_links_need_sign_in = models.BooleanField(
        default=False,
        help_text="Playing a recording or voicemail link needs a sign-in as a member.",
    )
    recording_links_generation = models.PositiveIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationScopedQuerySet(models.QuerySet):
    def for_organization(self, organization: Organization) -> OrganizationScopedQuerySet:
        return self.filter(organization=organization)


class OrganizationOwned(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)

    objects = OrganizationScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(OrganizationOwned):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_org")
        ]
        ordering = ["user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    def allows(self, access: str) -> bool:
        return access in ROLE_ACCESS[self.role]


INVITATION_LIFETIME = timedelta(days=7)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(OrganizationOwned):
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    # Only the hash is stored: the link in the email is the only copy of the token.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )
