"""The broker stopped while webhooks keep arriving, then started again, empty: webhooks are still
acknowledged at once (the inbox commits to PostgreSQL, the hand-off to the broker fails fast),
and beat's sweeper sends everything the broker lost or never got."""

from __future__ import annotations

import time

from tests.pipeline.faults.plant import Processes
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline

# Longer than the sweeper's period, so beat and the workers both meet the missing broker.
OUTAGE_SECONDS = 8
QUICK_SECONDS = 1.5


def test_it_acknowledges_webhooks_and_delivers_them_all_across_a_broker_restart(
    pipeline: Pipeline, processes: Processes
) -> None:
    calls = plan_calls(pipeline, 50, seed=6201)
    with processes() as plant:
        provider = provider_for(pipeline, plant, calls, seed=6202, pause=0.25).start()
        batches = len(provider.batches)
        provider.wait_for_batches(batches // 4)
        plant.broker.stop()
        stopped = time.monotonic()
        provider.wait_for_batches(3 * batches // 4)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
        during = [post for post in provider.posts if post.at > stopped]
        plant.broker.start()
        provider.finish()
        wait_until_settled(calls, timeout=90)

        report = reconcile(planned=calls, provider=provider, sandbox=pipeline.sandbox)
        print(report)
        assert len(during) >= batches // 3, report
        assert [post.status for post in during] == [200] * len(during), report
        assert max(post.seconds for post in during) < QUICK_SECONDS, report
        assert "the sweeper will pick it up" in plant.logs(), report
        assert report.clean, report
