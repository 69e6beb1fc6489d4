"""`python manage.py move_outreach_org <outreach org id> <organisation slug> --staff <email>
--reason "..."`: platform staff move an Outreach org that was bound to the wrong organisation.

Deliberately a command, not a page: it takes shell access to the deployment, names the staff
member who answers for it, and writes the audit trail of both organisations
(services.outreach_org_move).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.outreach.models import OutreachOrg
from integrations.outreach.services import MoveRefused, outreach_org_move
from portal.tenancy.models import Organization


class Command(BaseCommand):
    help = "Move an Outreach org bound to the wrong organisation to the right one (audited)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("outreach_org_id", help="The Outreach org's id (its guid).")
        parser.add_argument("organization", help="The slug of the organisation it belongs to.")
        parser.add_argument("--staff", required=True, help="Email of the staff member moving it.")
        parser.add_argument("--reason", required=True, help="Why, for the audit trail.")

    def handle(self, *args: Any, **options: Any) -> None:
        staff = (
            get_user_model()
            .objects.filter(email__iexact=options["staff"], is_staff=True, is_active=True)
            .first()
        )
        if staff is None:
            raise CommandError(f"{options['staff']} is not an active platform staff member.")
        if not options["reason"].strip():
            raise CommandError("Say why in --reason: it goes to the audit trail.")
        outreach_org = (
            OutreachOrg.objects.select_related("organization")
            .filter(outreach_org_id=options["outreach_org_id"])
            .first()
        )
        if outreach_org is None:
            raise CommandError(
                f"No organisation is bound to Outreach org {options['outreach_org_id']}."
            )
        target = Organization.objects.filter(slug=options["organization"]).first()
        if target is None:
            raise CommandError(f"No organisation has the slug {options['organization']}.")
        source = outreach_org.organization
        try:
            disconnected = outreach_org_move(
                outreach_org=outreach_org, to=target, actor=staff, reason=options["reason"].strip()
            )
        except MoveRefused as refusal:
            raise CommandError(str(refusal)) from refusal
        self.stdout.write(
            f"Outreach org {outreach_org} moved from {source} to {target}; "
            f"{disconnected} connection(s) of {source} disconnected. An admin of {target} "
            "connects Outreach next."
        )
