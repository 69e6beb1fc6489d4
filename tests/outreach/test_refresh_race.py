"""However many workers need a token at the same moment, exactly one refresh is made."""

from __future__ import annotations

import multiprocessing
import os
from datetime import timedelta

from django.db import connection as database

from integrations.outreach.models import OutreachConnection
from outreach_sandbox import SandboxControl
from tests.conftest import Cast
from tests.outreach.conftest import CLIENT_ID, CLIENT_SECRET, OutreachCast
from tests.outreach.helpers import seed_connection
from tests.outreach.race_worker import work

WORKERS = 8


def test_it_refreshes_once_however_many_processes_need_the_token(
    transactional_db: None,
    cast: Cast,
    sandbox: SandboxControl,
    sandbox_url: str,
    outreach: OutreachCast,
) -> None:
    connection = seed_connection(
        sandbox, organization=cast.org, outreach_user=outreach.olga, expires_in=timedelta(minutes=1)
    )
    old_refresh = connection.refresh_token
    # The refresh takes a second, so the other workers are sure to be waiting on the row lock.
    sandbox.hang_next(1.0, path_prefix="/oauth/token")
    test_database = database.settings_dict["NAME"]
    environment = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{test_database}",
        "OUTREACH_OAUTH_URL": f"{sandbox_url}/oauth",
        "OUTREACH_API_URL": f"{sandbox_url}/api/v2",
        "OUTREACH_CLIENT_ID": CLIENT_ID,
        "OUTREACH_CLIENT_SECRET": CLIENT_SECRET,
        "PYTHONPATH": os.getcwd(),
    }
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    processes = [
        context.Process(target=work, args=(environment, connection.pk, barrier, results))
        for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)

    assert [outcome[0] for outcome in outcomes] == ["ok"] * WORKERS, outcomes
    assert len(sandbox.requests(path_prefix="/oauth/token")) == 1
    api = sandbox.requests(path_prefix="/api/v2")
    assert [r["status"] for r in api] == [200] * WORKERS
    stored = OutreachConnection.objects.get(pk=connection.pk)
    assert stored.refresh_token != old_refresh
    # Every worker used the one new token.
    assert {outcome[2] for outcome in outcomes} == {stored.access_token.reveal()}
