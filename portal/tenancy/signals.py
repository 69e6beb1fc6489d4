"""What the rest of the product subscribes to about who belongs to an organisation.

`member_removed(sender=Membership, organization=..., user=..., actor=...)` is sent inside the
transaction that removes a membership, so whatever a receiver withdraws with it (the person's own
Outreach connection, integrations/outreach) goes with the removal or not at all. A signal rather
than a call, because tenancy is imported by the apps that own those things, never the reverse.
"""

from __future__ import annotations

from django.dispatch import Signal

member_removed = Signal()
