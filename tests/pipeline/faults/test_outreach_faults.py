"""Outreach misbehaving mid-run: bursts of 500, 429 with Retry-After, requests that hang past our
client's timeout (answered after we gave up, or with a 500)."""

from __future__ import annotations

from tests.pipeline.faults.plant import OUTREACH_TIMEOUT_SECONDS, Processes
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline

RETRY_AFTER = 2
HANG = OUTREACH_TIMEOUT_SECONDS + 1


def test_it_delivers_everything_once_and_in_order_through_500s_429s_and_hangs(
    pipeline: Pipeline, processes: Processes
) -> None:
    calls = plan_calls(pipeline, 42, seed=6001)
    with processes() as plant:
        provider = provider_for(pipeline, plant, calls, seed=6002, pause=0.05).start()
        sandbox, batches = pipeline.sandbox, len(provider.batches)
        provider.wait_for_batches(batches // 6)
        sandbox.fail_next(5, path_prefix="/api/v2")
        provider.wait_for_batches(2 * batches // 6)
        sandbox.rate_limit_next(3, retry_after=RETRY_AFTER, path_prefix="/api/v2")
        provider.wait_for_batches(3 * batches // 6)
        sandbox.hang_next(HANG, count=2, path_prefix="/api/v2/calls")
        provider.wait_for_batches(4 * batches // 6)
        sandbox.hang_next(HANG, count=1, then_error=True, path_prefix="/api/v2")
        sandbox.fail_next(3, path_prefix="/api/v2")
        sandbox.rate_limit_next(2, retry_after=RETRY_AFTER, path_prefix="/api/v2")
        provider.finish()
        wait_until_settled(calls, timeout=90)

        report = reconcile(
            planned=calls, provider=provider, sandbox=sandbox, retry_after_seconds=RETRY_AFTER
        )
        print(report)
        faults = [r["fault"] for r in sandbox.requests(path_prefix="/api/v2") if r["fault"]]
        assert sorted(faults) == ["error"] * 8 + ["hang"] * 3 + ["rate_limit"] * 5, report
        assert report.clean, report
