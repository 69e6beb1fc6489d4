"""An organisation's data as one JSON document, read in pieces so it can be streamed.

What is left out on purpose: secrets (OAuth tokens, signing secrets, provider credentials, the
token in a webhook URL, invitation and API token hashes) and what is not the organisation's own
(other tenants, platform staff notes). Everything else a person of the organisation could see in
the portal is in it: settings, members, invitations, the Outreach connection, provider
connections, agent mappings, every call with what the provider sent and every request to
Outreach, and the organisation's audit trail.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.utils import timezone

from calls.models import AgentMapping, Call, DeliveryAttempt, InboxEvent
from integrations.models import ProviderConnection
from integrations.outreach.models import OutreachConnection, OutreachOrg
from portal.audit.models import AuditEntry
from portal.tenancy.models import Invitation, Membership, Organization

FORMAT = "callbridge-organization-export/1"
# Calls are read this many at a time, with their events and attempts in one query each.
PAGE = 500

ORGANIZATION_FIELDS = (
    "id",
    "name",
    "slug",
    "default_region",
    "settle_seconds",
    "give_up_hours",
    "call_retention_days",
    "audit_retention_days",
    "recording_links_need_sign_in",
    "recording_links_generation",
    "created",
)
CALL_FIELDS = (
    "id",
    "connection_id",
    "provider_call_id",
    "direction",
    "outreach_call_id",
    "outreach_user_id",
    "owner__email",
    "prospect_id",
    "from_number",
    "to_number",
    "extension",
    "agent",
    "reported_state",
    "reported_state_changed_at",
    "reported_recording_url",
    "reported_voicemail_url",
    "final_state",
    "ended_at",
    "final_reported_at",
    "status",
    "problem",
    "attention",
    "first_event_at",
    "last_event_at",
    "dialled_at",
    "dial_status",
    "dial_reason",
    "created",
)
EVENT_FIELDS = (
    "call_id",
    "dedup_key",
    "happening",
    "occurred_at",
    "link",
    "normalised",
    "raw",
    "received_at",
    "status",
    "reason",
    "duplicates",
)
ATTEMPT_FIELDS = (
    "call_id",
    "purpose",
    "attempt",
    "method",
    "path",
    "request_body",
    "status_code",
    "response_body",
    "outreach_error_id",
    "error",
    "outcome",
    "started_at",
    "duration_ms",
)
AUDIT_FIELDS = (
    "created",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "data",
)


def organization_size(*, organization: Organization) -> dict[str, int]:
    """What deleting the organisation takes with it, for the confirmation page."""
    return {
        "members": Membership.objects.for_organization(organization).count(),
        "calls": Call.objects.for_organization(organization).count(),
    }


def organization_export_chunks(*, organization: Organization) -> Iterator[str]:
    """The JSON document, in pieces whose concatenation parses."""
    yield "{"
    for key, value in _settings_and_people(organization).items():
        yield f"{_json(key)}: {_json(value)},\n"
    yield '"calls": [\n'
    yield from _joined(_calls(organization))
    yield '],\n"audit": [\n'
    audit = AuditEntry.objects.filter(organization_id=organization.pk).order_by("id")
    yield from _joined(audit.values(*AUDIT_FIELDS).iterator(chunk_size=PAGE))
    yield "]}\n"


def _settings_and_people(organization: Organization) -> dict[str, Any]:
    own = {"organization": organization}
    outreach_org = OutreachOrg.objects.filter(**own).values("outreach_org_id", "name", "linked_at")
    return {
        "format": FORMAT,
        "exported_at": timezone.now(),
        "organization": Organization.objects.filter(pk=organization.pk)
        .values(*ORGANIZATION_FIELDS)
        .get(),
        "members": list(Membership.objects.filter(**own).values("user__email", "role", "created")),
        "invitations": list(
            Invitation.objects.filter(**own).values(
                "email", "role", "created", "expires_at", "accepted_at", "revoked_at"
            )
        ),
        "outreach": {
            "org": outreach_org.first(),
            "connections": list(
                OutreachConnection.objects.filter(**own).values(
                    "kind",
                    "user__email",
                    "outreach_user_id",
                    "outreach_email",
                    "outreach_name",
                    "outreach_org_id",
                    "scopes",
                    "status",
                    "status_reason",
                    "connected_at",
                    "refreshed_at",
                )
            ),
        },
        "provider_connections": list(
            ProviderConnection.objects.filter(**own).values(
                "id", "kind", "name", "is_active", "created"
            )
        ),
        "agent_mappings": list(
            AgentMapping.objects.filter(**own).values(
                "kind", "value", "outreach_user_id", "user__email", "created"
            )
        ),
    }


def _calls(organization: Organization) -> Iterator[dict[str, Any]]:
    last = 0
    while True:
        page = list(
            Call.objects.for_organization(organization)
            .filter(pk__gt=last)
            .order_by("pk")
            .values(*CALL_FIELDS)[:PAGE]
        )
        if not page:
            return
        ids = [call["id"] for call in page]
        events = _by_call(
            InboxEvent.objects.filter(call_id__in=ids).order_by("occurred_at", "id"), EVENT_FIELDS
        )
        attempts = _by_call(
            DeliveryAttempt.objects.filter(call_id__in=ids).order_by("started_at", "id"),
            ATTEMPT_FIELDS,
        )
        for call in page:
            yield {**call, "events": events[call["id"]], "attempts": attempts[call["id"]]}
        last = ids[-1]


def _by_call(rows: QuerySet[Any], fields: tuple[str, ...]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows.values(*fields):
        grouped[row.pop("call_id")].append(row)
    return grouped


def _joined(items: Iterable[Any]) -> Iterator[str]:
    for n, item in enumerate(items):
        yield ("" if n == 0 else ",\n") + _json(item)


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
