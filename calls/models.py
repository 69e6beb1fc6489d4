"""Calls, the inbox of what providers told us, and every attempt to tell Outreach.

- `InboxEvent`: one row per provider event, committed before the webhook is acknowledged, unique
  per (connection, de-duplication key). Its verdict says what the rules made of it.
- `Call`: one per (connection, provider call id), and one per Outreach call id in an
  organisation: a rep's dial records the call under Outreach's id before the provider has named
  it, and the provider's events find it by that id. It records what Outreach already has
  (`reported_*`), the final state once known, and the scheduling of its work: `due_at` says when
  a worker should next look at it, `lease_until` that one is delivering right now. Both live in
  the database so that any number of workers on any number of machines agree.
- `DeliveryAttempt`: one row per request to Outreach, written before the request leaves, so a
  worker killed mid-request leaves an attempt whose outcome is unknown and is reconciled.
- `AgentMapping`: which Outreach user a provider's agent is.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from calls.rules import Direction, Happening, OutreachState, Reported, Verdict
from integrations.models import ProviderConnection
from portal.tenancy.models import OrganizationOwned


class CallStatus(models.TextChoices):
    ACTIVE = "active", "Active"  # work may be pending
    DONE = "done", "Up to date"  # Outreach has everything there is to send
    # Waiting (see `problem`): on a person when `due_at` is empty (an agent to map, a connection
    # to renew), or on something that recovers by itself (Outreach's token endpoint) when set.
    HELD = "held", "Held"
    FAILED = "failed", "Failed"  # Outreach refused permanently (see `problem`)


# Failed attempts in a row after which a call that is still retrying is shown to a person.
RETRIES_WORTH_A_LOOK = 3
# Held, failed, closed by Callbridge, an event that came too late, or still retrying after
# several failures: a call a person should look at.
NEEDS_ATTENTION = (
    Q(status__in=[CallStatus.HELD, CallStatus.FAILED])
    | ~Q(attention="")
    | Q(failures__gte=RETRIES_WORTH_A_LOOK)
)


class DialStatus(models.TextChoices):
    """How placing a call a rep dialled through Callbridge went (calls/dialling/)."""

    PLACING = "placing", "Placing"
    PLACED = "placed", "Placed"
    # The provider did not answer in time: it may be placing the call. Its events decide; if
    # none come by `dial_confirm_by`, the dial failed.
    UNCONFIRMED = "unconfirmed", "Waiting for the phone system"
    FAILED = "failed", "Failed"


class Call(OrganizationOwned):
    connection = models.ForeignKey(ProviderConnection, on_delete=models.CASCADE)
    # Empty until the provider names the call: a dialled call is recorded before it is placed.
    provider_call_id = models.CharField(max_length=200, blank=True)
    direction = models.CharField(max_length=10, choices=[(d, d) for d in Direction])
    outreach_call_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Whose call it is in Outreach, from the agent mapping.
    outreach_user_id = models.CharField(max_length=64, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    prospect_id = models.CharField(max_length=64, blank=True)
    from_number = models.CharField(max_length=255, blank=True)
    to_number = models.CharField(max_length=255, blank=True)
    extension = models.CharField(max_length=40, blank=True)
    agent = models.JSONField(default=dict, blank=True)

    reported_state = models.CharField(max_length=20, blank=True)
    reported_state_changed_at = models.DateTimeField(null=True, blank=True)
    reported_recording_url = models.CharField(max_length=255, blank=True)
    reported_voicemail_url = models.CharField(max_length=1024, blank=True)
    final_state = models.CharField(max_length=20, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When Outreach accepted the final state: links are tried until an hour after it.
    final_reported_at = models.DateTimeField(null=True, blank=True)
    # Outreach refused a link for its 1-hour window: no more links are sent.
    links_closed = models.BooleanField(default=False)

    status = models.CharField(max_length=10, choices=CallStatus.choices, default=CallStatus.ACTIVE)
    problem = models.CharField(max_length=500, blank=True)
    # Something a person should look at although the call may be up to date (it was closed by
    # Callbridge, an event came too late to count, delivery gave up); cleared by a replay.
    attention = models.CharField(max_length=500, blank=True)
    # Failed attempts to reach Outreach since the last success: the back-off grows with them.
    failures = models.PositiveIntegerField(default=0)
    # An answer from Outreach was lost (a timeout, a worker killed mid-request): before anything
    # else, ask Outreach what it has, so nothing is created twice or re-sent after its final state.
    needs_reconcile = models.BooleanField(default=False)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # A doorbell was rung for this moment (a final state settling): every event arriving
    # meanwhile wakes a claim that waits for the same moment, and must not ring for it again.
    wake_at = models.DateTimeField(null=True, blank=True)
    first_event_at = models.DateTimeField(null=True, blank=True)
    # When we last heard of the call: its give-up deadline counts from here.
    last_event_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When the reconciliation loop last asked the provider how the call is doing.
    provider_asked_at = models.DateTimeField(null=True, blank=True)
    # A rep dialled it through Callbridge (empty otherwise): when, how placing went and why.
    dialled_at = models.DateTimeField(null=True, blank=True)
    dial_status = models.CharField(max_length=12, choices=DialStatus.choices, blank=True)
    dial_reason = models.CharField(max_length=500, blank=True)
    # While placing or unconfirmed: the dial failed if the provider reported nothing by then.
    dial_confirm_by = models.DateTimeField(null=True, blank=True, db_index=True)
    # An outbound call that did not start in Outreach, logged there once it ended (seed 003):
    # when Outreach accepted the record. Nothing is sent for it after that.
    logged_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "provider_call_id"],
                condition=~Q(provider_call_id=""),
                name="one_call_per_provider_call",
            ),
            # A retried dial, a repeated message and a provider's webhook all land on one call.
            models.UniqueConstraint(
                fields=["organization", "outreach_call_id"],
                condition=~Q(outreach_call_id=""),
                name="one_call_per_outreach_call",
            ),
        ]
        # The calls list (newest first, keyset on created and id) and its search and filters
        # stay fast with a million calls in one organisation (bench/console.py measures it).
        indexes = [
            models.Index(fields=["organization", "-created", "-id"], name="call_newest"),
            models.Index(
                fields=["organization", "status", "-created", "-id"], name="call_newest_by_status"
            ),
            models.Index(
                fields=["organization", "outreach_user_id", "-created", "-id"],
                name="call_newest_by_agent",
            ),
            models.Index(
                fields=["organization", "-created", "-id"],
                condition=NEEDS_ATTENTION,
                name="call_newest_needing_attention",
            ),
            models.Index(fields=["organization", "from_number"], name="call_from_number"),
            models.Index(fields=["organization", "to_number"], name="call_to_number"),
            models.Index(fields=["organization", "provider_call_id"], name="call_provider_call_id"),
        ]
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.direction} call {self.provider_call_id or self.outreach_call_id}"

    def reported(self) -> Reported:
        return Reported(
            state=OutreachState(self.reported_state) if self.reported_state else None,
            state_changed_at=self.reported_state_changed_at,
            recording_url=self.reported_recording_url or None,
            voicemail_url=self.reported_voicemail_url or None,
            final_accepted_at=self.final_reported_at,
            links_closed=self.links_closed,
        )


def call_is_urgent(call: Call) -> bool:
    """The one rule for the urgent queue, used by every enqueue: an outbound call whose
    "initiated" Outreach does not have yet (Outreach counts the call as failed without it within
    5 s of the launch), so it must not wait behind other calls' backlog. An outbound call with
    no Outreach call id did not start in Outreach: it has no such deadline (it is logged once it
    ends), so a campaign dialer's calls never crowd the urgent queue."""
    return (
        call.direction == Direction.OUTBOUND
        and not call.reported_state
        and bool(call.outreach_call_id)
    )


class InboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLIED = Verdict.APPLIED, "Applied"
    IGNORED = Verdict.IGNORED, "Ignored"
    HELD = Verdict.HELD, "Held"
    EXPIRED = Verdict.EXPIRED, "Expired"


class InboxEvent(OrganizationOwned):
    connection = models.ForeignKey(ProviderConnection, on_delete=models.CASCADE)
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    dedup_key = models.CharField(max_length=200)
    happening = models.CharField(max_length=30, choices=[(h, h) for h in Happening])
    occurred_at = models.DateTimeField()
    link = models.CharField(max_length=2048, blank=True)
    normalised = models.JSONField(default=dict)
    raw = models.JSONField(null=True)
    # The webhook request's headers, less anything that could sign or authorise (shown to support).
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=InboxStatus.choices, default=InboxStatus.PENDING
    )
    reason = models.CharField(max_length=500, blank=True)
    # Repeats of this event (same de-duplication key): acknowledged, counted, never processed.
    duplicates = models.PositiveIntegerField(default=0)
    last_duplicate_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "dedup_key"], name="one_event_per_key")
        ]
        # The needs-attention page's links that came too late: few, found without a scan.
        indexes = [
            models.Index(
                fields=["organization", "-received_at"],
                condition=Q(status="expired"),
                name="inbox_expired",
            )
        ]
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.happening} at {self.occurred_at:%H:%M:%S} ({self.status})"


class AttemptOutcome(models.TextChoices):
    IN_FLIGHT = "in_flight", "In flight"  # sent, no answer recorded (yet, or ever: see reconcile)
    SUCCEEDED = "succeeded", "Succeeded"
    TRANSIENT = "transient", "Failed, will retry"
    PERMANENT = "permanent", "Refused"
    UNKNOWN = "unknown", "Outcome unknown"  # the worker died; reconciled with Outreach
    # Never left the building (our shared hourly budget for the user was spent): does not
    # count towards the back-off.
    NOT_SENT = "not_sent", "Not sent"


class Purpose(models.TextChoices):
    """Why a request to Outreach was made."""

    CREATE = "create", "Create the inbound call"
    UPDATE = "update", "Update the call"
    RECONCILE = "reconcile", "Ask Outreach what it has (an answer was lost)"
    LOG = "log", "Log the call that did not start in Outreach"


class DeliveryAttempt(OrganizationOwned):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="attempts")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    attempt = models.PositiveIntegerField()  # 1 for the first try of this request
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    request_body = models.JSONField(null=True)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    outreach_error_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=500, blank=True)
    outcome = models.CharField(
        max_length=10, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_FLIGHT
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status_code or self.outcome}"


class AgentIdentityKind(models.TextChoices):
    EMAIL = "email", "Email"
    EXTENSION = "extension", "Extension"
    PHONE = "phone", "Phone number"
    ID = "id", "Provider agent id"


class AgentMapping(OrganizationOwned):
    """A provider's agent identity -> an Outreach user (and our user, when they have joined)."""

    kind = models.CharField(max_length=10, choices=AgentIdentityKind.choices)
    value = models.CharField(max_length=254)
    outreach_user_id = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "value"], name="one_mapping_per_identity"
            )
        ]
        ordering = ["kind", "value"]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} -> Outreach user {self.outreach_user_id}"
