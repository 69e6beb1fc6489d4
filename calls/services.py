"""Writes about calls that people (or other parts of the product) ask for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from calls.models import AgentMapping, Call, CallStatus
from portal import clock
from portal.audit.services import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from portal.tenancy.models import Organization


def calls_resume(*, organization: Organization, reason: str) -> int:
    """Release the organisation's held calls: what Outreach's window still accepts is sent, the
    rest is marked expired by the rules. Returns how many calls were released."""
    from calls.tasks import enqueue_calls

    with transaction.atomic():
        held = list(
            Call.objects.for_organization(organization)
            .filter(status=CallStatus.HELD)
            .values_list("pk", flat=True)
        )
        Call.objects.filter(pk__in=held).update(
            status=CallStatus.ACTIVE, due_at=clock.now(), problem=""
        )
        if held:
            audit_record(
                action="calls.resume",
                organization=organization,
                data={"calls": len(held), "reason": reason},
            )
        transaction.on_commit(lambda: enqueue_calls((call_id, False) for call_id in held))
    return len(held)


def call_replay(*, call: Call, actor: AbstractBaseUser) -> None:
    """Support's "try again": the pipeline re-plans the call from its happenings and what
    Outreach has, so a replay can never send something twice or backwards."""
    from calls.tasks import enqueue_call

    with transaction.atomic():
        Call.objects.filter(pk=call.pk).update(
            status=CallStatus.ACTIVE, due_at=clock.now(), problem=""
        )
        audit_record(
            action="call.replay",
            organization=call.organization,
            actor=actor,
            target=call,
            data={"status_before": call.status, "problem": call.problem},
        )
        transaction.on_commit(lambda: enqueue_call(call.pk))


def agent_mapping_delete(*, mapping: AgentMapping, actor: AbstractBaseUser) -> None:
    audit_record(
        action="agent_mapping.delete",
        organization=mapping.organization,
        actor=actor,
        target=mapping,
        data={
            "kind": mapping.kind,
            "value": mapping.value,
            "outreach_user_id": mapping.outreach_user_id,
        },
    )
    mapping.delete()


def agent_mapping_create(
    *,
    organization: Organization,
    kind: str,
    value: str,
    outreach_user_id: str,
    user: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
) -> AgentMapping:
    with transaction.atomic():
        mapping = AgentMapping.objects.create(
            organization=organization,
            kind=kind,
            value=value.strip(),
            outreach_user_id=outreach_user_id,
            user=user,
        )
        audit_record(
            action="agent_mapping.create",
            organization=organization,
            actor=actor,
            target=mapping,
            data={"kind": kind, "value": value, "outreach_user_id": outreach_user_id},
        )
    calls_resume(organization=organization, reason=f"agent {kind} {value} mapped")
    return mapping


def on_connection_reactivated(sender: Any, connection: Any, **kwargs: Any) -> None:
    calls_resume(
        organization=connection.organization,
        reason=f"Outreach connection {connection.pk} usable again",
    )
