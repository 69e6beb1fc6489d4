"""A large, realistic set of calls in one organisation, for measuring the support console.

    python manage.py generate_calls --organization bench-console --calls 1000000

The organisation, its three provider connections and fifty mapped agents are created when
missing; the calls are spread over the past 90 days, most up to date in Outreach, some held,
failed or noted for attention, as a busy organisation's would be. Rows are written with
PostgreSQL's COPY (a million in about a minute); every column the model has gets its default
unless set below, so a column added later needs no change here.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from psycopg.types.json import Jsonb

from calls.models import AgentMapping, Call, CallStatus
from integrations.models import ProviderConnection
from portal import clock
from portal.tenancy.models import Organization

AGENTS = 50
CONNECTIONS = ("Office PBX", "Contact centre", "Branch phones")
SPREAD = timedelta(days=90)
CALL_LENGTH = timedelta(seconds=60)
# status, share, problem, attention
MIX: list[tuple[str, float, str, str]] = [
    (CallStatus.DONE, 0.93, "", ""),
    (CallStatus.DONE, 0.01, "", "ringing (#1) arrived after Outreach had the final state."),
    (CallStatus.ACTIVE, 0.02, "", ""),
    (
        CallStatus.HELD,
        0.015,
        "Agent (email agent-x@pbx.example) is not mapped to an Outreach user: add an agent "
        "mapping.",
        "",
    ),
    (CallStatus.FAILED, 0.025, "Outreach refused update: validationError", ""),
]


def agent_email(index: int) -> str:
    return f"agent-{index}@pbx.example"


class Command(BaseCommand):
    help = "Create many calls in one organisation (the support console's benchmark data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", default="bench-console", help="Its slug.")
        parser.add_argument("--calls", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("generate_calls writes with COPY: PostgreSQL only.")
        rng = random.Random(options["seed"])  # noqa: S311 - test data, reproducible by seed
        organization, connections = _organization(options["organization"])
        total = options["calls"]
        start = Call.objects.for_organization(organization).count()
        with transaction.atomic():
            _copy_calls(organization, connections, rng, count=total, offset=start)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE calls_call")
        self.stdout.write(f"{total} calls added to {organization.slug} ({start + total} in all)")


def _organization(slug: str) -> tuple[Organization, list[ProviderConnection]]:
    organization, _ = Organization.objects.get_or_create(
        slug=slug, defaults={"name": slug.replace("-", " ").title()}
    )
    connections = [
        ProviderConnection.objects.get_or_create(
            organization=organization, name=name, defaults={"kind": "generic"}
        )[0]
        for name in CONNECTIONS
    ]
    for index in range(AGENTS):
        AgentMapping.objects.get_or_create(
            organization=organization,
            kind="email",
            value=agent_email(index),
            defaults={"outreach_user_id": str(1000 + index)},
        )
    return organization, connections


def _copy_calls(
    organization: Organization,
    connections: list[ProviderConnection],
    rng: random.Random,
    *,
    count: int,
    offset: int,
) -> None:
    fields = [field for field in Call._meta.concrete_fields if not field.primary_key]
    template = Call(organization=organization, connection=connections[0])
    defaults = {
        field.attname: field.get_db_prep_save(getattr(template, field.attname), connection)
        for field in fields
    }
    columns = ", ".join(f'"{field.column}"' for field in fields)
    now = clock.now()
    shares = [share for _, share, _, _ in MIX]
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw.copy(f"COPY calls_call ({columns}) FROM STDIN") as copy:
            for index in range(offset, offset + count):
                created = now - SPREAD + SPREAD * (index - offset + 1) / (count + 1)
                status, _, problem, attention = rng.choices(MIX, weights=shares)[0]
                agent = rng.randrange(AGENTS)
                direction = rng.choice(("inbound", "outbound"))
                row = {
                    **defaults,
                    "connection_id": rng.choice(connections).pk,
                    "provider_call_id": f"gen-{index}",
                    "outreach_call_id": str(50_000_000 + index) if status != "held" else "",
                    "outreach_user_id": str(1000 + agent) if status != "held" else "",
                    "direction": direction,
                    # A rep dialled the outbound ones; Outreach took the final state a minute in.
                    "dialled_at": created if direction == "outbound" else None,
                    "dial_status": "placed" if direction == "outbound" else "",
                    "ended_at": created + CALL_LENGTH if status == "done" else None,
                    "final_reported_at": created + CALL_LENGTH if status == "done" else None,
                    "from_number": f"+1555{rng.randrange(10_000_000):07d}",
                    "to_number": f"+1555{rng.randrange(10_000_000):07d}",
                    "agent": Jsonb({"email": agent_email(agent)}),
                    "status": status,
                    "problem": problem,
                    "attention": attention,
                    "reported_state": "completed" if status == "done" else "",
                    "final_state": "completed" if status == "done" else "",
                    "created": created,
                    "first_event_at": created,
                    "last_event_at": created,
                }
                copy.write_row([row[field.attname] for field in fields])
