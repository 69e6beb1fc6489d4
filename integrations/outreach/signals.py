"""What the rest of the product subscribes to.

`connection_reactivated(sender=OutreachConnection, connection=..., previous_status=...)` is sent
after the commit that makes a connection usable again (reconnected after `needs_reauth`, or
connected anew). The call pipeline resumes the work it held for that organisation and user:
what Outreach's 1-hour update window still accepts is sent, the rest is marked expired.
"""

from __future__ import annotations

from django.dispatch import Signal

connection_reactivated = Signal()
