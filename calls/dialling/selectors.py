"""Reads for a dial: who the rep is at Outreach and at the phone system, which connection
places the call, and what to tell the rep about a dialled call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from calls.models import AgentMapping, Call, CallStatus, DialStatus
from integrations.models import ProviderConnection
from integrations.outreach.models import ConnectionStatus
from integrations.outreach.selectors import user_connection
from integrations.provider import Capability
from integrations.registry import is_known, provider_class
from portal.audit.models import AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from portal.tenancy.models import Organization

# Events Callbridge records itself (a dial, its failure, a call closed for silence) carry keys
# with this prefix; every other event on a call came from the provider.
OWN_EVENT_PREFIX = "callbridge:"


@dataclass(frozen=True)
class Rep:
    outreach_user_id: str  # empty when Callbridge does not know them in Outreach
    agent: dict[str, str]  # their identity at the phone system, from the agent mappings
    problem: str  # why they cannot dial, in words they can act on; empty when they can


def rep_for(*, organization: Organization, user: User) -> Rep:
    """The rep behind an API token: their Outreach user (their own Outreach connection, else an
    agent mapping an admin made for them), then through the agent mappings of that Outreach
    user, who they are at the phone system."""
    own = user_connection(organization=organization, user=user)
    outreach_user_id = (
        own.outreach_user_id if own is not None and own.status != ConnectionStatus.REVOKED else ""
    )
    mappings = AgentMapping.objects.for_organization(organization).order_by("kind", "pk")
    if not outreach_user_id:
        named = mappings.filter(user=user).first()
        outreach_user_id = named.outreach_user_id if named is not None else ""
    if not outreach_user_id:
        return Rep(
            outreach_user_id="",
            agent={},
            problem="Callbridge does not know who you are in Outreach: connect your own "
            "Outreach user on your settings page, or ask an admin to map your agent to you on "
            "the Agents page.",
        )
    agent: dict[str, str] = {}
    for mapping in mappings.filter(outreach_user_id=outreach_user_id):
        agent.setdefault(mapping.kind, mapping.value)
    if not agent:
        return Rep(
            outreach_user_id=outreach_user_id,
            agent={},
            problem=f"No agent of your phone system is mapped to your Outreach user "
            f"({outreach_user_id}): ask an admin to add one on the Agents page.",
        )
    return Rep(outreach_user_id=outreach_user_id, agent=agent, problem="")


@dataclass(frozen=True)
class OutboundRoute:
    # The connection a dial is recorded on: the one that places calls, or (so that Outreach
    # still hears `failed`) another of the organisation's. None: it has no connection at all.
    connection: ProviderConnection | None
    problem: str  # why the call cannot be placed through it; empty when it can


def outbound_route(*, organization: Organization) -> OutboundRoute:
    connections = ProviderConnection.objects.for_organization(organization)
    marked = connections.filter(places_calls=True).first()
    if marked is None:
        return OutboundRoute(
            connection=connections.order_by("-is_active", "pk").first(),
            problem=f"No telephony connection places calls for {organization.name}: an admin "
            "chooses one on the Telephony page.",
        )
    if not marked.is_active:
        return OutboundRoute(
            connection=marked,
            problem=f"The connection that places calls (“{marked.name}”) is disabled: an admin "
            "enables it on the Telephony page.",
        )
    if not (is_known(marked.kind) and provider_class(marked.kind).supports(Capability.PLACE_CALL)):
        return OutboundRoute(
            connection=marked,
            problem=f"“{marked.name}” ({marked.provider_label}) cannot place calls: an admin "
            "chooses another connection on the Telephony page.",
        )
    return OutboundRoute(connection=marked, problem="")


def provider_reported(*, call: Call) -> bool:
    """Whether the provider has said anything about the call itself."""
    return call.events.exclude(dedup_key__startswith=OWN_EVENT_PREFIX).exists()


def dial_wait_seconds(*, call: Call) -> int:
    """How long an unconfirmed dial waits for the provider's events: the provider's own wait
    when it gave one (kept with the dial's `dial.unconfirmed` audit entry), else
    DIAL_CONFIRM_SECONDS."""
    entry = AuditEntry.objects.filter(
        action="dial.unconfirmed", target_type=Call._meta.label, target_id=str(call.pk)
    ).first()
    wait = entry.data.get("wait_seconds") if entry is not None else None
    if isinstance(wait, int | float) and not isinstance(wait, bool):
        return round(wait)
    return settings.DIAL_CONFIRM_SECONDS


def dial_answer(*, call: Call, repeat: bool) -> dict[str, Any]:
    """What the extension, the `tel:` handler and the rep read about a dialled call."""
    status = call.dial_status
    if not status:  # the phone system reported the call before anyone dialled it here
        status = DialStatus.PLACED
    elif status == DialStatus.UNCONFIRMED and provider_reported(call=call):
        status = DialStatus.PLACED
    number = call.to_number + (f" ext. {call.extension}" if call.extension else "")
    details = {
        DialStatus.PLACED: f"Your phone system is placing the call to {number}.",
        DialStatus.PLACING: f"Your phone system is being asked to call {number}.",
        DialStatus.UNCONFIRMED: f"{call.dial_reason} Waiting up to "
        f"{dial_wait_seconds(call=call)} s for it to report the call.",
        DialStatus.FAILED: f"The call could not be placed: {call.dial_reason}",
    }
    detail = details[DialStatus(status)]
    if repeat:
        detail = (
            f"Call {call.outreach_call_id} was dialled before; nothing was placed again. {detail}"
        )
    outreach_problem = call.problem if call.status in (CallStatus.FAILED, CallStatus.HELD) else ""
    return {
        "callId": call.outreach_call_id,
        "status": str(status),
        "detail": detail,
        "repeat": repeat,
        "number": call.to_number,
        "extension": call.extension,
        "providerCallId": call.provider_call_id,
        # What Outreach has been told so far, and why it refused, if it did (another Outreach
        # org's call id answers 404).
        "outreach": {"state": call.reported_state or None, "problem": outreach_problem},
    }
