"""The one clock the pipeline reads, so tests can move time for every process at once.

Production reads the system clock. `CLOCK_OFFSET_FILE`, when set, names a file holding a number of
seconds to add: the fault tests use it to make web, workers and beat live an hour in the future
together, the way the sandbox's clock control does for Outreach.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.utils import timezone


def offset() -> timedelta:
    path = os.environ.get("CLOCK_OFFSET_FILE")
    if not path:
        return timedelta(0)
    try:
        with open(path) as file:
            return timedelta(seconds=float(file.read().strip() or 0))
    except (OSError, ValueError):
        return timedelta(0)


def now() -> datetime:
    return timezone.now() + offset()
