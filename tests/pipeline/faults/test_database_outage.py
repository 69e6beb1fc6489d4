"""PostgreSQL unreachable for the web process while webhooks keep arriving, then back: every
webhook is answered 503 (nothing stored, so the provider sends it again) until the database
returns, and nothing that was acknowledged is lost."""

from __future__ import annotations

import time

from django.db import connection

from tests.pipeline.faults.plant import PostgresProxy, Processes, wait_until
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline

OUTAGE_SECONDS = 4


def test_it_answers_503_while_the_database_is_away_and_loses_nothing_acknowledged(
    pipeline: Pipeline, processes: Processes
) -> None:
    calls = plan_calls(pipeline, 50, seed=6301)
    database = connection.settings_dict
    with PostgresProxy() as proxy:
        url = f"postgres://{database['USER']}@127.0.0.1:{proxy.port}/{database['NAME']}"
        with processes(web={"DATABASE_URL": url}) as plant:
            provider = provider_for(pipeline, plant, calls, seed=6302, pause=0.2).start()
            batches = len(provider.batches)
            provider.wait_for_batches(batches // 4)
            proxy.cut()
            cut = time.monotonic()
            wait_until(
                lambda: sum(1 for post in provider.posts if post.status == 503) >= 5,
                timeout=30,
                what="five webhooks answered 503",
            )
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut)))
            proxy.restore()
            restored = time.monotonic()
            provider.finish()
            wait_until_settled(calls, timeout=90)

            report = reconcile(planned=calls, provider=provider, sandbox=pipeline.sandbox)
            print(report)
            during = [p for p in provider.posts if p.at > cut and p.at + p.seconds < restored]
            assert {post.status for post in during} == {503}, report
            assert max(post.seconds for post in during) < 1.5, report
            assert report.clean, report
