"""Our side of Outreach's OAuth: which Outreach org an organisation is linked to, and the
authorisations (connections) its admin and its reps gave us.

An organisation has at most one *organisation connection* (made by an admin; used for a call
whose owner has no usable connection of their own) and one *user connection* per member (a rep's
own Outreach user). allauth's tables are not used to keep them: the social login is intercepted
(see adapter.py) and only these rows are written.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.encryption import EncryptedTextField
from portal.tenancy.models import Organization, OrganizationOwned

# Refresh this long before the access token expires, so a request never starts with a token
# that dies on the way (Outreach's tokens last 7200 s).
REFRESH_MARGIN = timedelta(minutes=5)


class OutcomeWords(models.TextChoices):
    """The words a logged call's outcome is spelled in. The seeds disagree: the Call resource
    (001, and the OpenAPI document) says "Answered" / "Not Answered", seed 003's guide
    "completed" / "no_answer"; which one an Outreach org takes is learned from its 422."""

    REFERENCE = "reference", "Answered / Not Answered (the Call reference)"
    GUIDE = "guide", "completed / no_answer (the Log External Calls guide)"


class OutreachOrg(OrganizationOwned):
    """The one Outreach org an organisation works with. Unique both ways: one Outreach org
    belongs to at most one of our organisations, and the database refuses a second link."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="outreach_org"
    )
    outreach_org_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True)
    linked_at = models.DateTimeField(auto_now_add=True)
    # The outcome words this Outreach org accepted last when a call was logged.
    outcome_words = models.CharField(
        max_length=10, choices=OutcomeWords.choices, default=OutcomeWords.REFERENCE
    )

    def __str__(self) -> str:
        return self.name or self.outreach_org_id


class ConnectionKind(models.TextChoices):
    ORGANIZATION = "organization", "Organisation (admin)"
    USER = "user", "Rep's own"


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    # Outreach refused the refresh token: only the person reconnecting can fix it.
    NEEDS_REAUTH = "needs_reauth", "Needs reconnecting"
    REVOKED = "revoked", "Disconnected"


class OutreachConnection(OrganizationOwned):
    kind = models.CharField(max_length=20, choices=ConnectionKind.choices)
    # The rep whose own connection this is; empty for the organisation connection.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outreach_connections",
    )
    outreach_user_id = models.CharField(max_length=100)
    outreach_email = models.EmailField(blank=True)
    outreach_name = models.CharField(max_length=200, blank=True)
    outreach_org_id = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField()
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Why the status last changed, for the people who read the page; never a secret.
    status_reason = models.CharField(max_length=300, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # Outreach's token endpoint failing in a way a retry may fix (a 5xx, `invalid_client` after
    # our client secret was rotated, a malformed answer): shown to platform staff until a
    # refresh succeeds again. Never a secret.
    token_error = models.CharField(max_length=300, blank=True)
    token_error_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(kind=ConnectionKind.ORGANIZATION),
                name="one_outreach_organization_connection",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=Q(kind=ConnectionKind.USER),
                name="one_outreach_connection_per_user",
            ),
            models.CheckConstraint(
                condition=Q(kind=ConnectionKind.ORGANIZATION, user__isnull=True)
                | Q(kind=ConnectionKind.USER, user__isnull=False),
                name="outreach_user_connection_has_user",
            ),
        ]

    def __str__(self) -> str:
        who = self.outreach_email or self.outreach_user_id
        return f"{self.get_kind_display()} Outreach connection of {who}"

    def expires_soon(self) -> bool:
        return self.expires_at - REFRESH_MARGIN <= timezone.now()


class OutreachRateWindow(models.Model):
    """Requests made for one Outreach user in one clock hour, shared by every worker.

    Outreach allows 10,000 requests per user per hour; counting here lets every worker stop
    before Outreach answers 429 (`blocked_until` carries a 429's Retry-After to them all).
    Keyed by Outreach org too: user ids are only unique within an org (see budget.py)."""

    outreach_org_id = models.CharField(max_length=100)
    outreach_user_id = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["outreach_org_id", "outreach_user_id", "window_start"],
                name="one_outreach_rate_window_per_org_user",
            )
        ]

    def __str__(self) -> str:
        who = f"{self.outreach_org_id}/{self.outreach_user_id}"
        return f"{who} @ {self.window_start:%Y-%m-%d %H:00}: {self.used}"
