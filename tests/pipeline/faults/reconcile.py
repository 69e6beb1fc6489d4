"""The account after a fault test: every event the provider sent, followed into our inbox and out
to Outreach (the sandbox), with the call ids behind every failure.

Three witnesses are read independently: the provider's own log (what it sent and which posts
were answered 200), our database (what was stored, what each call's status is), and the
sandbox (every request it received, when, and each call's accepted and refused history). A
promise holds only if all three agree.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from calls.models import AttemptOutcome, Call, CallStatus, DeliveryAttempt, InboxEvent
from outreach_sandbox.control import RequestRecord, SandboxControl
from tests.pipeline.faults.provider import Provider
from tests.pipeline.scenarios import PlannedCall

_RANK = {"initiated": 0, "ringing": 1, "in progress": 2}
# Requests another worker had already sent when a 429 came back may arrive just after it; only
# those arriving later than this must have waited (a per-call wait has no such grace).
RETRY_AFTER_GRACE = timedelta(seconds=1)

FAILURES = (
    "events never acknowledged",
    "events acknowledged but not stored (lost)",
    "events stored twice",
    "events stored that nobody sent",
    "events left pending or held",
    "events expired although on time",
    "late events not expired",
    "calls not done",
    "calls missing in Outreach",
    "calls whose final state differs from the table",
    "links missing or wrong",
    "requests Outreach refused",
    "backward updates",
    "updates after the final state",
    "updates that reached Outreach twice",
    "duplicate POST /calls creates",
    "requests sent before a 429's Retry-After elapsed",
)


def rank(state: str | None) -> int:
    return -1 if state is None else _RANK.get(state, 3)


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=lambda: {n: [] for n in FAILURES})

    def fail(self, name: str, call_id: str | None, detail: str = "") -> None:
        self.failures[name].append(f"{call_id or '?'}{': ' + detail if detail else ''}")

    @property
    def failure_counts(self) -> dict[str, int]:
        return {name: len(items) for name, items in self.failures.items()}

    @property
    def clean(self) -> bool:
        return not any(self.failures.values())

    def __str__(self) -> str:
        width = max(map(len, [*self.counts, *self.failures]))
        lines = ["reconciliation", *(f"  {k:<{width}}  {v}" for k, v in self.counts.items())]
        lines.append("failures")
        for name, items in self.failures.items():
            lines.append(f"  {name:<{width}}  {len(items)}")
            lines += [f"      {item}" for item in items[:30]]
            if len(items) > 30:
                lines.append(f"      ... and {len(items) - 30} more")
        return "\n".join(lines)


def reconcile(
    *,
    planned: list[PlannedCall],
    provider: Provider,
    sandbox: SandboxControl,
    late_events: frozenset[str] = frozenset(),
    retry_after_seconds: float | None = None,
) -> Report:
    """`late_events`: ids of events that arrive after Outreach's window and must expire.
    `retry_after_seconds`: the Retry-After the test's injected 429s carried."""
    report = Report()
    log = [r for r in sandbox.requests() if not r["path"].startswith("/_control")]
    calls_by_id = {c.provider_call_id: c for c in Call.objects.all()}
    _account_events(report, planned, provider, late_events)
    who = _CallFinder(planned, calls_by_id, log)
    _account_outreach(report, planned, calls_by_id, who, sandbox)
    _account_requests(report, log, who, retry_after_seconds)
    report.counts.update(
        {
            "calls planned": len(planned),
            "requests to Outreach": len(log),
            "faults injected (error / 429 / hang / hold)": sum(1 for r in log if r["fault"]),
            "answers lost and reconciled": DeliveryAttempt.objects.filter(
                outcome=AttemptOutcome.UNKNOWN
            ).count(),
        }
    )
    return report


def wait_until_settled(planned: list[PlannedCall], *, timeout: float) -> bool:
    """Until every planned call is up to date in Outreach, as far as we know; False after
    `timeout`, and the reconciliation reports whatever is not."""
    ids = [p.provider_call_id for p in planned]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Call.objects.filter(provider_call_id__in=ids, status=CallStatus.DONE).count() == len(
            ids
        ):
            return True
        time.sleep(0.2)
    return False


def _account_events(
    report: Report, planned: list[PlannedCall], provider: Provider, late: frozenset[str]
) -> None:
    call_of = {event["id"]: p.provider_call_id for p in planned for event in p.events}
    stored = Counter(InboxEvent.objects.values_list("dedup_key", flat=True))
    statuses = dict(InboxEvent.objects.values_list("dedup_key", "status"))
    for key in sorted(call_of.keys() - provider.acknowledged):
        report.fail("events never acknowledged", call_of[key], key)
    for key in sorted(provider.acknowledged - stored.keys()):
        report.fail("events acknowledged but not stored (lost)", call_of.get(key), key)
    for key, times in sorted(stored.items()):
        if times > 1:
            report.fail("events stored twice", call_of.get(key), f"{key} x{times}")
        if key not in call_of:
            report.fail("events stored that nobody sent", None, key)
    for key, status in sorted(statuses.items()):
        if status in ("pending", "held"):
            report.fail("events left pending or held", call_of.get(key), f"{key} {status}")
        if status == "expired" and key not in late:
            report.fail("events expired although on time", call_of.get(key), key)
        if key in late and status != "expired":
            report.fail("late events not expired", call_of.get(key), f"{key} {status}")
    posts = provider.posts
    report.counts.update(
        {
            "events planned": len(call_of),
            "events sent": len(provider.sent),
            "webhook posts": len(posts),
            "webhook posts not answered 200": sum(1 for p in posts if p.status != 200),
            "events acknowledged": len(provider.acknowledged),
            "events stored": len(stored.keys() & call_of.keys()),
            "repeats recognised as duplicates": sum(
                InboxEvent.objects.values_list("duplicates", flat=True)
            ),
            "events expired": sum(1 for s in statuses.values() if s == "expired"),
            "events ignored by the rules": sum(1 for s in statuses.values() if s == "ignored"),
        }
    )


class _CallFinder:
    """Which planned call a request to Outreach was about."""

    def __init__(
        self, planned: list[PlannedCall], calls: dict[str, Call], log: list[RequestRecord]
    ) -> None:
        self.provider_ids = {p.provider_call_id for p in planned}
        self.by_outreach_id = {p.outreach_call_id: p.provider_call_id for p in planned}
        self.by_outreach_id |= {c.outreach_call_id: c.provider_call_id for c in calls.values()}
        self.by_number = {
            p.events[0]["from"]: p.provider_call_id for p in planned if p.direction == "inbound"
        }
        self.created: dict[str, list[str]] = defaultdict(list)  # vendorCallId -> Outreach ids
        for record in log:
            if record["method"] == "POST" and record["path"] == "/api/v2/calls":
                vendor_id = _attributes(record["requestBody"]).get("vendorCallId")
                answer = _json(record["responseBody"]).get("data") or {}
                if record["status"] < 300 and answer.get("id") is not None:
                    self.created[vendor_id].append(str(answer["id"]))
                    self.by_outreach_id[str(answer["id"])] = vendor_id
        self.by_outreach_id.pop("", None)

    def __call__(self, record: RequestRecord) -> str | None:
        path, query = record["path"], parse_qs(record["query"])
        if path.startswith("/api/v2/calls/"):
            return self.by_outreach_id.get(path.removeprefix("/api/v2/calls/"))
        if path == "/api/v2/calls" and record["method"] == "POST":
            return _attributes(record["requestBody"]).get("vendorCallId")
        if path == "/api/v2/calls":
            return (query.get("filter[vendorCallId]") or [None])[0]
        if path == "/api/v2/phoneNumbers":
            return self.by_number.get((query.get("filter[number]") or [""])[0])
        return None


def _account_outreach(
    report: Report,
    planned: list[PlannedCall],
    calls: dict[str, Call],
    who: _CallFinder,
    sandbox: SandboxControl,
) -> None:
    late_initiated = 0
    for p in planned:
        call_id = p.provider_call_id
        ours = calls.get(call_id)
        if ours is None or ours.status != CallStatus.DONE:
            detail = f"{ours.status}: {ours.problem}" if ours else "no call record"
            report.fail("calls not done", call_id, detail)
        for vendor_id in [call_id] if len(who.created[call_id]) > 1 else []:
            report.fail("duplicate POST /calls creates", vendor_id, ", ".join(who.created[call_id]))
        outreach_id = p.outreach_call_id or (ours.outreach_call_id if ours else "")
        outreach_id = outreach_id or next(iter(who.created[call_id]), "")
        if not outreach_id:
            report.fail("calls missing in Outreach", call_id)
            continue
        view = sandbox.call(outreach_id)
        attributes = view["call"]["attributes"]
        if attributes.get("state") != p.final_state:
            report.fail(
                "calls whose final state differs from the table",
                call_id,
                f"{attributes.get('state')} instead of {p.final_state}",
            )
        links = (attributes.get("recordingUrl"), attributes.get("voicemailRecordingUrl"))
        expected = (p.recording or None, p.voicemail or None)
        if links != expected:
            report.fail("links missing or wrong", call_id, f"{links} instead of {expected}")
        launch = view.get("launch")
        if launch and not launch.get("initiatedWithin5s"):
            late_initiated += 1
        _account_history(report, call_id, view["history"])
    # Not a failure here: the planner launches every outbound call before the traffic starts.
    report.counts["outbound calls whose initiated came after 5 s"] = late_initiated


def _account_history(report: Report, call_id: str, history: list[dict[str, Any]]) -> None:
    state, changed_at = None, ""
    for entry in history:
        sent = entry["attributes"]
        if entry["outcome"] == "refused":
            if entry["rule"] == "CALL-STATE-ORDER":
                report.fail("backward updates", call_id, f"{sent} refused: {entry['detail']}")
            elif entry["rule"] == "CALL-STATE-AFTER-FINAL":
                report.fail("updates after the final state", call_id, f"{sent}")
            continue  # and counted with every refusal from the request log
        if entry["outcome"] == "unchanged":
            report.fail("updates that reached Outreach twice", call_id, f"{sent}")
            continue
        after = entry["stateAfter"]
        moment = sent.get("stateChangedAt") or ""
        if rank(after) < rank(state) or (sent.get("state") and moment < changed_at):
            report.fail("backward updates", call_id, f"{state} at {changed_at} -> {sent}")
        if sent.get("state"):
            state, changed_at = after, moment


def _account_requests(
    report: Report, log: list[RequestRecord], who: _CallFinder, retry_after: float | None
) -> None:
    limited: list[tuple[datetime, str | None]] = []
    window_refusals = 0
    # The log is written as answers go out; a hung request is logged late. Order by arrival.
    for record in sorted(log, key=lambda record: record["receivedAt"]):
        call_id = who(record)
        received = datetime.fromisoformat(record["receivedAt"])
        if _link_refused_for_the_window(record):
            # Expected: links are tried until an hour after Outreach accepted the final state,
            # and the sandbox counts its hour from the call's end; the link is marked expired.
            window_refusals += 1
        elif record["status"] >= 400 and not record["fault"]:
            report.fail(
                "requests Outreach refused",
                call_id,
                f"{record['method']} {record['path']} {record['status']} "
                f"{record['refusedBy'] or ''}",
            )
        if retry_after is not None:
            wait = timedelta(seconds=retry_after)
            for at, limited_call in limited:
                early = received < at + wait and (
                    call_id == limited_call or received > at + RETRY_AFTER_GRACE
                )
                if early:
                    report.fail(
                        "requests sent before a 429's Retry-After elapsed",
                        call_id,
                        f"{record['method']} {record['path']} "
                        f"{(received - at).total_seconds():.2f} s after the 429 "
                        f"for {limited_call}",
                    )
                    break
        if record["status"] == 429:
            limited.append((received, call_id))
    report.counts["429 answers"] = len(limited)
    report.counts["links Outreach refused for its window"] = window_refusals


def _link_refused_for_the_window(record: RequestRecord) -> bool:
    attributes = _attributes(record["requestBody"])
    return (
        record["refusedBy"] == "CALL-UPDATE-WINDOW"
        and "state" not in attributes
        and bool(attributes.keys() & {"recordingUrl", "voicemailUrl"})
    )


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _attributes(body: str) -> dict[str, Any]:
    return (_json(body).get("data") or {}).get("attributes") or {}
