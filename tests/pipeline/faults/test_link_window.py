"""Outreach's 1-hour window for links, with our clock and Outreach's moved together for every
process: a link that comes just before the window closes is delivered, one that comes after is
marked expired. We try links until an hour after Outreach accepted the final state (we cannot
know from which instant Outreach counts), so Outreach may refuse a late link for its window,
which is recorded as expired; it refuses nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from calls.models import Call
from tests.pipeline.faults.plant import Processes
from tests.pipeline.faults.provider import Provider
from tests.pipeline.faults.reconcile import reconcile, wait_until_settled
from tests.pipeline.faults.traffic import plan_calls, provider_for
from tests.pipeline.helpers import Pipeline
from tests.pipeline.scenarios import PlannedCall

WINDOW = timedelta(hours=1)
# How long before the window closes the on-time links come, and how long after the late ones.
EDGE = timedelta(seconds=20)
LINKS = ("recording_ready", "voicemail_left")
CALL_FIELDS = ("direction", "to", "from", "outreach_call_id")


def without_links(calls: list[PlannedCall]) -> None:
    for planned in calls:
        planned.events = [e for e in planned.events if e["happening"] not in LINKS]
        planned.recording = planned.voicemail = ""


def add_link(pipeline: Pipeline, planned: PlannedCall, *, at: datetime, delivered: bool) -> dict:
    """The link this call can carry (a recording if completed, else a voicemail), happening at
    `at` on the moved clock; `delivered`: whether Outreach must end up with it."""
    fields = {k: v for k, v in planned.events[0].items() if k in CALL_FIELDS}
    name = planned.provider_call_id
    if planned.final_state == "completed":
        kind, link = "recording_ready", f"https://rec.example/{name}.mp3"
        planned.recording = link if delivered else ""
    else:
        kind, link = "voicemail_left", f"https://vm.example/{name}.mp3"
        planned.voicemail = link if delivered else ""
    second = (at - pipeline.start).total_seconds()
    event = pipeline.event(name, kind, second, **fields, link=link)
    planned.events.append(event)
    return event


def send_links(
    pipeline: Pipeline,
    provider: Provider,
    calls: list[PlannedCall],
    *,
    at: datetime,
    delivered: bool,
) -> list[dict]:
    events = [add_link(pipeline, planned, at=at, delivered=delivered) for planned in calls]
    provider.batches += [events[start : start + 5] for start in range(0, len(events), 5)]
    provider.start().finish()
    return events


def ended_at(pipeline: Pipeline, planned: PlannedCall) -> datetime:
    """When the call ended, as Outreach has it: its window runs from there."""
    outreach_id = planned.outreach_call_id or (
        Call.objects.get(provider_call_id=planned.provider_call_id).outreach_call_id
    )
    attributes = pipeline.sandbox.call(outreach_id)["call"]["attributes"]
    return datetime.fromisoformat(attributes["stateChangedAt"])


def test_it_sends_links_until_the_window_closes_and_expires_those_that_come_later(
    pipeline: Pipeline, processes: Processes, clock_offset: Callable[[float], None]
) -> None:
    calls = plan_calls(pipeline, 28, seed=6401)
    without_links(calls)
    linkable = [
        p
        for p in calls
        if p.final_state == "completed"
        or (p.direction == "inbound" and p.final_state in ("busy", "no answer"))
    ]
    on_time, late = linkable[0::2], linkable[1::2]
    with processes() as plant:
        provider = provider_for(pipeline, plant, calls, seed=6402).start()
        provider.finish()
        assert wait_until_settled(calls, timeout=60), "the calls did not end"
        ended = {p.provider_call_id: ended_at(pipeline, p) for p in linkable}

        # Just before the window of the earliest-ending call closes.
        shifted = min(ended[p.provider_call_id] for p in on_time) + WINDOW - EDGE
        clock_offset((shifted - datetime.now(UTC)).total_seconds())
        send_links(pipeline, provider, on_time, at=shifted, delivered=True)
        wait_until_settled(calls, timeout=60)

        # Just after the window of the latest-ending call closed.
        shifted = max(ended[p.provider_call_id] for p in late) + WINDOW + EDGE
        clock_offset((shifted - datetime.now(UTC)).total_seconds())
        expired = send_links(pipeline, provider, late, at=shifted, delivered=False)
        wait_until_settled(calls, timeout=60)

        report = reconcile(
            planned=calls,
            provider=provider,
            sandbox=pipeline.sandbox,
            late_events=frozenset(event["id"] for event in expired),
        )
        print(report)
        assert len(on_time) >= 6 and len(late) >= 6, report
        assert report.counts["events expired"] == len(late), report
        assert report.clean, report
