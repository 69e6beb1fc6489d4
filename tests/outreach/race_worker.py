"""One worker of the refresh race (test_refresh_race.py): a separate process running Django
against the test database, waiting at the barrier, then asking Outreach who it is."""

from __future__ import annotations

import os
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier


def work(environment: dict[str, str], connection_id: int, barrier: Barrier, results: Queue) -> None:
    os.environ.update(environment)
    import django

    django.setup()
    from integrations.outreach.client import OutreachClient
    from integrations.outreach.models import OutreachConnection

    connection = OutreachConnection.objects.get(pk=connection_id)
    barrier.wait(timeout=30)
    try:
        with OutreachClient(connection=connection) as client:
            _, response = client.whoami()
        results.put(("ok", [a.status for a in response.attempts], connection.access_token.reveal()))
    except Exception as error:  # reported to the test, which fails with it
        results.put(("error", repr(error), ""))
