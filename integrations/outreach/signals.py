"""What the rest of the product subscribes to.

`connection_reactivated(sender=OutreachConnection, connection=..., previous_status=...)` is sent
after the commit that makes a connection usable again (reconnected after `needs_reauth`, or
connected anew). The call pipeline resumes every call it held for that organisation: each is
planned again, so final states are sent however old and links as long as Outreach's window
accepts them.
"""

from __future__ import annotations

from django.dispatch import Signal

connection_reactivated = Signal()
