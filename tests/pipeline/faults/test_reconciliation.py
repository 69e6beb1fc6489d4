"""The reconciliation itself, fed a run that went wrong in every way it looks for: it must count
each failure and name the call behind it, or a clean report from the fault tests proves nothing.
No worker runs here; the test plays the failures against the inbox and the sandbox by hand."""

from __future__ import annotations

import random
from contextlib import suppress

from calls.models import InboxEvent
from integrations.outreach.client import OutreachClient
from integrations.outreach.errors import OutreachError
from portal.encryption import Secret
from tests.pipeline.faults.plant import Processes
from tests.pipeline.faults.reconcile import reconcile
from tests.pipeline.faults.traffic import provider_for
from tests.pipeline.helpers import Pipeline
from tests.pipeline.scenarios import TABLE, planned_call


def row(direction: str, result: str) -> tuple:
    return next(row for row in TABLE if row[:2] == (direction, result))


def test_it_names_the_calls_behind_every_kind_of_failure(
    pipeline: Pipeline, processes: Processes
) -> None:
    # load-0: outbound, completed; load-1: inbound, completed; load-2: outbound, canceled.
    rows = [
        row("outbound", "answered by the callee"),
        row("inbound", "answered by the callee"),
        row("outbound", "caller cancels before anyone picks up"),
    ]
    rng = random.Random(6501)
    calls = [planned_call(pipeline, index, row, rng=rng) for index, row in enumerate(rows)]
    outbound, inbound, lossy = calls
    with processes(workers=0, beat=False) as plant:
        provider = provider_for(pipeline, plant, calls, seed=6502).start()
        provider.finish()
    InboxEvent.objects.filter(dedup_key=lossy.events[-1]["id"]).delete()

    grant = pipeline.sandbox.issue_token(
        pipeline.admin_outreach_id, scopes=Pipeline.SCOPES, count_as_mint=False
    )
    with OutreachClient(access_token=Secret(grant["access_token"])) as outreach:
        call = outbound.outreach_call_id
        for state in ("initiated", "in progress", "in progress", "ringing"):
            with suppress(OutreachError):  # "ringing" after "in progress" is refused
                outreach.update_call(call, attributes={"state": state})
        pipeline.sandbox.rate_limit_next(1, retry_after=30, path_prefix="/api/v2/calls")
        for _ in range(2):
            with suppress(OutreachError):
                outreach.get_call(call)
        for _ in range(2):
            outreach.create_call(
                outreach_user_id=str(pipeline.rep_outreach_id),
                from_number="+14155550001",
                to_number="+12065550100",
                vendor_call_id=inbound.provider_call_id,
            )

    report = reconcile(
        planned=calls, provider=provider, sandbox=pipeline.sandbox, retry_after_seconds=30
    )
    print(report)
    failures = {
        name: sorted({item.split(":")[0] for item in items})
        for name, items in report.failures.items()
        if items
    }
    assert failures == {
        "events acknowledged but not stored (lost)": ["load-2"],
        "events left pending or held": ["load-0", "load-1", "load-2"],  # no worker ran
        "calls not done": ["load-0", "load-1", "load-2"],
        "calls whose final state differs from the table": ["load-0", "load-1", "load-2"],
        "links missing or wrong": ["load-1"],
        "requests Outreach refused": ["load-0"],
        "backward updates": ["load-0"],
        "updates that reached Outreach twice": ["load-0"],
        "duplicate POST /calls creates": ["load-1"],
        "requests sent before a 429's Retry-After elapsed": ["load-0"],
    }, report
