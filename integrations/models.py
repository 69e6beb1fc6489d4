"""A telephony provider as one organisation installed it, and every webhook it sent us.

The provider itself (what Twilio *is*: how to verify, how to parse) lives in its folder and the
registry; a `ProviderConnection` is this organisation's installation of it: its webhook URL token,
its secrets and setup values (encrypted) and its status.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from integrations.registry import is_known, provider_class
from portal.encryption import EncryptedTextField, Secret
from portal.tenancy.models import OrganizationOwned


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class UnmatchedProspect(models.TextChoices):
    LOG = "log", "Log it without a prospect"
    HOLD = "hold", "Hold it for a person"


class ProviderConnection(OrganizationOwned):
    # A registry key (integrations/registry.py), checked by the setup form and the services
    # rather than by choices here, so that adding a provider needs no migration.
    kind = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    # The unguessable part of the webhook URL that tells us which connection is calling.
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    # Space-separated signing secrets, newest first; several while a secret is being rotated.
    webhook_secrets = EncryptedTextField(blank=True, default="")
    # The provider's setup fields as the admin filled them in (its `setup_fields`): a JSON object
    # of strings, encrypted whole because some are secrets (API keys, signing secrets).
    credentials = EncryptedTextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    # The connection a rep's click-to-dial goes through (its provider must be able to place
    # calls); at most one per organisation, chosen by an admin on the Telephony page.
    places_calls = models.BooleanField(default=False)
    # Log in Outreach the outbound calls that did not start there (desk phones, the provider's
    # own app, campaign dialers), once they end (seed 003 "Log External Calls"). Off: they are
    # shown in the portal only.
    log_external_calls = models.BooleanField(default=False)
    # Such a call whose number matches no prospect (or several): logged without one, or held.
    unmatched_prospect = models.CharField(
        max_length=10, choices=UnmatchedProspect.choices, default=UnmatchedProspect.LOG
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(places_calls=True),
                name="one_provider_connection_places_calls",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_label})"

    @property
    def provider_label(self) -> str:
        # A provider removed from EXTRA_PROVIDERS leaves its connections behind: name them by kind.
        return provider_class(self.kind).label if is_known(self.kind) else self.kind

    def webhook_url(self, **query: str) -> str:
        """The URL to give the provider: ours (`PUBLIC_BASE_URL`), a query naming what the
        provider should send back with its webhooks (the empty values left out), and the
        fragment its class declares, which the provider reads and never sends."""
        path = reverse("webhook", kwargs={"kind": self.kind, "token": self.webhook_token})
        given = {name: value for name, value in query.items() if value}
        fragment = provider_class(self.kind).webhook_url_fragment if is_known(self.kind) else ""
        return (
            settings.PUBLIC_BASE_URL
            + path
            + (f"?{urlencode(given)}" if given else "")
            + (f"#{fragment}" if fragment else "")
        )

    def signing_secrets(self) -> list[str]:
        return self.webhook_secrets.reveal().split() if self.webhook_secrets else []

    def setup_values(self) -> dict[str, str]:
        """The setup fields' saved values, secret ones included: for the provider's own use.
        Pages never show them back; the setup form leaves secret fields empty."""
        text = self.credentials.reveal() if self.credentials else ""
        return json.loads(text) if text else {}

    def set_setup_values(self, values: dict[str, str]) -> None:
        self.credentials = Secret(json.dumps(values, sort_keys=True) if values else "")


class WebhookReceipt(models.Model):
    """Every webhook request we answered with an error, for support staff.

    Accepted webhooks are not listed here: their events are in the inbox. The organisation is
    known only when the URL's token matched a connection; unmatched requests are for platform
    staff only.
    """

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    connection = models.ForeignKey(
        ProviderConnection, null=True, blank=True, on_delete=models.CASCADE
    )
    organization_id = models.BigIntegerField(null=True, db_index=True)
    provider = models.CharField(max_length=30)
    status = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=500)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    # The start of the body, so support can see what was sent; signatures are not kept.
    body_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.provider} webhook refused ({self.status}): {self.reason}"


class WebhookRefusalTally(models.Model):
    """Requests that matched no connection (an unknown provider, token or method), and refusals
    not recorded because their address sent too many: counted per day and reason for platform
    staff, never stored one row each, so nobody can fill the database by knocking."""

    day = models.DateField()
    reason = models.CharField(max_length=40)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "reason"], name="one_tally_per_day_and_reason")
        ]
        ordering = ["-day", "reason"]

    def __str__(self) -> str:
        return f"{self.day} {self.reason}: {self.count}"


class RepSignIn(OrganizationOwned):
    """A rep's own sign-in at the phone system a connection reaches (its provider's `rep_fields`,
    e.g. their Finesse user id and password): the provider places the rep's calls as them.
    Encrypted whole like a connection's setup values, and never shown again once saved."""

    connection = models.ForeignKey(
        ProviderConnection, on_delete=models.CASCADE, related_name="rep_sign_ins"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_sign_ins"
    )
    values = EncryptedTextField(blank=True, default="")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "user"], name="one_sign_in_per_rep")
        ]

    def revealed(self) -> dict[str, str]:
        text = self.values.reveal() if self.values else ""
        return json.loads(text) if text else {}

    def set_values(self, values: dict[str, str]) -> None:
        self.values = Secret(json.dumps(values, sort_keys=True) if values else "")


class ProviderCallAlias(models.Model):
    """Another id a provider knows one of our calls by, for asking it about the call later
    (Finesse: each dialog id a call key has had; a transfer or a conference gives a new one)."""

    connection = models.ForeignKey(
        ProviderConnection, on_delete=models.CASCADE, related_name="call_aliases"
    )
    provider_call_id = models.CharField(max_length=200)
    alias = models.CharField(max_length=200)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "provider_call_id", "alias"], name="one_alias_per_call"
            )
        ]
        indexes = [models.Index(fields=["connection", "provider_call_id", "-seen_at"])]

    def __str__(self) -> str:
        return f"{self.provider_call_id} is {self.alias} at {self.connection_id}"
