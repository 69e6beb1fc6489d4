"""One call's story for support staff: what the provider sent, what the rules made of it, what we
asked Outreach and what it answered, whether Outreach's deadlines were met, and who did what.

It reads only the records every provider writes (inbox events, delivery attempts, audit
entries), so a new provider's calls read the same without a line here. Audit entries that only
repeat an event's verdict or an attempt's outcome are folded into that row; the others (a replay,
a hold, a refused webhook) are rows of their own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from calls.models import (
    AttemptOutcome,
    Call,
    CallStatus,
    DeliveryAttempt,
    InboxEvent,
    InboxStatus,
)
from calls.rules import LINK_WINDOW, Direction
from integrations.registry import provider_class
from portal import clock
from portal.audit.models import AuditEntry

# Outreach counts an outbound call as failed unless `initiated` reaches it this soon after the
# dial (the contract, 000_ in the seeds).
INITIATED_DEADLINE = timedelta(seconds=5)
FORM = "application/x-www-form-urlencoded"


@dataclass
class FoldedAudit:
    """An audit entry shown inside the row it is about."""

    at: datetime
    action: str
    actor: str


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # event, attempt, deadline, audit
    anchor: str  # the row's id in the page, for links between rows
    title: str
    status: str = ""  # a word the page colours: applied, ignored, held, succeeded, missed...
    status_label: str = ""  # the word shown, when not the status itself
    explanation: str = ""  # what happened, in words
    data: Any = None  # the row's record as data (kept for tests and the copy button)
    payload: str = ""  # pretty-printed: what the provider sent, or our request body
    payload_format: str = ""  # json, form, text
    headers: dict[str, str] = field(default_factory=dict)
    answer: str = ""  # Outreach's answer, pretty-printed
    caused_by: TimelineEntry | None = None
    audit: list[FoldedAudit] = field(default_factory=list)


def call_timeline(*, call: Call) -> list[TimelineEntry]:
    """Every row of the call's story, oldest first."""
    events = list(call.events.all())
    attempts = list(call.attempts.all())
    event_rows = {event.pk: _event_entry(call, event) for event in events}
    attempt_rows = {
        attempt.pk: _attempt_entry(attempt, cause=_cause(attempt, events, event_rows))
        for attempt in attempts
    }
    entries: list[TimelineEntry] = [*event_rows.values(), *attempt_rows.values()]
    for entry in AuditEntry.objects.filter(
        organization_id=call.organization_id, target_type=Call._meta.label, target_id=str(call.pk)
    ).order_by("created", "id"):
        folded = FoldedAudit(at=entry.created, action=entry.action, actor=entry.actor_label)
        about_event = event_rows.get(entry.data.get("event")) if entry.data else None
        about_attempt = attempt_rows.get(entry.data.get("attempt")) if entry.data else None
        if entry.action.startswith("happening.") and about_event is not None:
            about_event.audit.append(folded)
        elif entry.action.startswith("delivery.") and about_attempt is not None:
            about_attempt.audit.append(folded)
        else:
            entries.append(_audit_entry(entry))
    entries += deadline_markers(call, events, attempts)
    return sorted(entries, key=lambda entry: entry.at)


def timeline_version(*, call: Call) -> str:
    """Changes whenever the timeline would: the live page fetches rows only when it does."""
    counts = [
        call.events.count(),
        sum(call.events.values_list("duplicates", flat=True)),
        call.attempts.count(),
        call.attempts.exclude(outcome=AttemptOutcome.IN_FLIGHT).count(),
        AuditEntry.objects.filter(
            organization_id=call.organization_id,
            target_type=Call._meta.label,
            target_id=str(call.pk),
        ).count(),
    ]
    return "-".join(map(str, [*counts, call.status, call.reported_state]))


def call_is_live(call: Call) -> bool:
    """Still moving (being delivered, held until someone acts, or not over yet): the page keeps
    asking for new rows. A failed call waits for a person's replay, which reloads the page."""
    if call.status == CallStatus.FAILED:
        return False
    return call.status != CallStatus.DONE or not call.final_state


# --- rows -------------------------------------------------------------------------------------


def _event_entry(call: Call, event: InboxEvent) -> TimelineEntry:
    raw, payload_format = _payload(call, event.raw)
    status = event.status
    return TimelineEntry(
        at=event.received_at,
        kind="event",
        anchor=f"event-{event.pk}",
        title=_event_title(event),
        status=status,
        explanation=verdict_in_words(event.status, event.reason)
        + (
            f" The provider sent it {event.duplicates + 1} times; the repeats were "
            "acknowledged and not processed again."
            if event.duplicates
            else ""
        ),
        data={"normalised": event.normalised, "raw": event.raw},
        payload=raw,
        payload_format=payload_format,
        headers=event.headers,
    )


def _event_title(event: InboxEvent) -> str:
    title = f"{event.happening} (happened {_milliseconds(event.occurred_at)})"
    agent = event.normalised.get("agent") or {}
    if agent:  # who had the call at this point: a transfer shows as another agent
        title += " · agent " + ", ".join(f"{kind} {value}" for kind, value in agent.items())
    if event.normalised.get("provider") == "callbridge":
        # Recorded by Callbridge itself: a rep's dial, its failure, or a call closed for silence.
        raw = event.raw if isinstance(event.raw, dict) else {}
        title += " · " + (
            f"by Callbridge: {raw['note']}" if raw.get("note") else "closed by Callbridge"
        )
    return title


def _attempt_entry(attempt: DeliveryAttempt, *, cause: TimelineEntry | None) -> TimelineEntry:
    status_code = attempt.status_code or "no answer"
    duration = f" in {attempt.duration_ms} ms" if attempt.duration_ms is not None else ""
    explanation = f"{attempt.get_purpose_display()}, attempt {attempt.attempt}: {status_code}"
    explanation += f"{duration}, {attempt.get_outcome_display().lower()}."
    if attempt.error or attempt.outreach_error_id:
        explanation += " " + refusal_in_words(attempt)
    return TimelineEntry(
        at=attempt.started_at,
        kind="attempt",
        anchor=f"attempt-{attempt.pk}",
        title=f"{attempt.method} {attempt.path}",
        status=attempt.outcome,
        status_label=attempt.get_outcome_display().lower(),
        explanation=explanation,
        data={
            "request": attempt.request_body,
            "response": attempt.response_body,
            "attempt": attempt.attempt,
            "status": attempt.status_code,
            "duration_ms": attempt.duration_ms,
        },
        payload=pretty(attempt.request_body) if attempt.request_body is not None else "",
        payload_format="json",
        answer=pretty_text(attempt.response_body),
        caused_by=cause,
    )


def _cause(
    attempt: DeliveryAttempt, events: list[InboxEvent], rows: dict[int, TimelineEntry]
) -> TimelineEntry | None:
    """The event that led to this request: the one whose link it carries, else the newest event
    we had received when it left."""
    attributes = ((attempt.request_body or {}).get("data") or {}).get("attributes") or {}
    links = {attributes.get("recordingUrl"), attributes.get("voicemailUrl")} - {None}
    before = [event for event in events if event.received_at <= attempt.started_at]
    linked = [event for event in before if event.link and event.link in links]
    candidates = linked or before
    if not candidates:
        return None
    return rows[max(candidates, key=lambda event: (event.received_at, event.pk)).pk]


# What each audit action means, for the rows that stand on their own.
AUDIT_WORDS = {
    "call.replay": "Replayed: the call was re-planned from its events and what Outreach has.",
    "call.held": "Held until a person acts: {problem}",
    "call.gave_up": "Gave up retrying: {error}",
    "call.error": "Could not be delivered: {error}",
    "call.webhook_refused": "A webhook about this call was refused ({status}).",
    "call.provider_asked": "Asked the provider how the call is doing.",
    "calls.resume": "Released from hold: {reason}",
    "delivery.refused": "Outreach refused the request.",
}


def _audit_entry(entry: AuditEntry) -> TimelineEntry:
    words = AUDIT_WORDS.get(entry.action, entry.action.replace(".", ": ").replace("_", " "))
    try:
        words = words.format_map(_Missing(entry.data or {}))
    except (ValueError, IndexError):
        pass
    by = f" By {entry.actor_label}." if entry.actor_label and entry.actor_label != "system" else ""
    return TimelineEntry(
        at=entry.created,
        kind="audit",
        anchor=f"audit-{entry.pk}",
        title=entry.action,
        status=entry.action.split(".")[-1],
        explanation=words + by,
        data=entry.data,
        payload=pretty(entry.data) if entry.data else "",
        payload_format="json",
    )


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "?"


# --- deadlines --------------------------------------------------------------------------------


def deadline_markers(
    call: Call, events: list[InboxEvent], attempts: list[DeliveryAttempt]
) -> list[TimelineEntry]:
    """Outreach's deadlines for this call, each met, missed or still open."""
    markers = []
    if call.direction == Direction.OUTBOUND:
        start = call.dialled_at or min((event.occurred_at for event in events), default=None)
        if start is not None:
            markers.append(
                _deadline(
                    "initiated within 5 s of the dial",
                    due=start + INITIATED_DEADLINE,
                    met_at=_first_success(attempts, lambda a: a.get("state") == "initiated"),
                    start=start,
                )
            )
    link_events = [event for event in events if event.link]
    if link_events and call.final_reported_at is not None:
        expired = any(event.status == InboxStatus.EXPIRED for event in link_events)
        met = _first_success(attempts, lambda a: "recordingUrl" in a or "voicemailUrl" in a)
        markers.append(
            _deadline(
                "links within 1 hour of the call's end",
                due=call.final_reported_at + LINK_WINDOW,
                met_at=None if expired else met,
                start=call.final_reported_at,
                missed=expired,
            )
        )
    return markers


def _first_success(attempts: list[DeliveryAttempt], sends: Any) -> datetime | None:
    for attempt in attempts:
        attributes = ((attempt.request_body or {}).get("data") or {}).get("attributes") or {}
        if attempt.outcome == AttemptOutcome.SUCCEEDED and sends(attributes):
            return attempt.started_at + timedelta(milliseconds=attempt.duration_ms or 0)
    return None


def _deadline(
    what: str, *, due: datetime, met_at: datetime | None, start: datetime, missed: bool = False
) -> TimelineEntry:
    if met_at is not None and met_at <= due:
        status, words, at = "met", f"Met: {_seconds(met_at - start)} after it began.", met_at
    elif met_at is not None or missed:
        status, at = "missed", min(met_at or due, due)
        words = (
            f"Missed: {_seconds(met_at - start)} after it began."
            if met_at
            else "Missed: Outreach's window closed before it was sent."
        )
    elif clock.now() > due:
        status, at, words = "missed", due, "Missed: not sent in time."
    else:
        status, words, at = "pending", f"Open until {due:%H:%M:%S} UTC.", due
    return TimelineEntry(
        at=at,
        kind="deadline",
        anchor=f"deadline-{what.split()[0]}",
        title=f"Deadline: {what}",
        status=status,
        explanation=words,
    )


def _seconds(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


# --- words ------------------------------------------------------------------------------------

# The rules' reasons (calls/rules.py) as a person reads them; the rules keep their terse text.
REASON_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Outreach has (.+)$"), "Outreach has the call as “{0}”: nothing more to send."),
    (
        re.compile(r"^happened before (.+), which Outreach already has$"),
        "Already covered: it happened before “{0}”, which Outreach has.",
    ),
    (re.compile(r"^to be reported as (.+)$"), "Outreach is told the call is “{0}”."),
    (
        re.compile(r"^superseded by (.+)$"),
        "Counted, but Outreach is told the later state “{0}” directly (a call may skip ahead).",
    ),
    (
        re.compile(r"^after final state (.+)$"),
        "It came after the call's final state “{0}”, which Outreach cannot change.",
    ),
    (re.compile(r"^call already final: (.+)$"), "Outreach already has the final state “{0}”."),
    (
        re.compile(r"^would move the call backwards from (.+)$"),
        "It would move the call back from “{0}”, which Outreach does not allow.",
    ),
    (re.compile(r"^waiting for the final state$"), "Links are sent once the call has ended."),
]

VERDICT_WORDS = {
    InboxStatus.APPLIED: "Used.",
    InboxStatus.IGNORED: "Not sent to Outreach.",
    InboxStatus.HELD: "Waiting.",
    InboxStatus.EXPIRED: "Too late, not sent.",
    InboxStatus.PENDING: "Not looked at yet: a worker picks it up shortly.",
}


def verdict_in_words(verdict: str, reason: str) -> str:
    lead = VERDICT_WORDS.get(verdict, verdict)  # type: ignore[call-overload]
    if not reason:
        return lead
    for pattern, words in REASON_WORDS:
        found = pattern.match(reason)
        if found:
            return f"{lead} {words.format(*found.groups())}"
    return f"{lead} {reason[:1].upper()}{reason[1:]}."


# Outreach's error ids (its JSON:API `errors[].id`) in our words, with what to do next.
OUTREACH_ERRORS = {
    "validationError": "Outreach found the request invalid. Check the agent mapping's Outreach "
    "user and the call's numbers, then replay.",
    "unauthorizedRequest": "Outreach did not accept our token. Reconnect Outreach on the "
    "Outreach page, then replay.",
    "forbidden": "The Outreach user may not do this (a missing scope or a user without access). "
    "Reconnect Outreach with an admin, then replay.",
    "resourceNotFound": "Outreach does not know this call (deleted in Outreach?). Replay to "
    "create it again.",
    "rateLimitExceeded": "Outreach asked us to slow down; it is retried by itself.",
}


def refusal_in_words(attempt: DeliveryAttempt) -> str:
    """Why this request failed, in our words with the next step, Outreach's own text beside."""
    return outreach_error_in_words(
        attempt.outreach_error_id, _error_detail(attempt.response_body) or attempt.error
    )


def outreach_error_in_words(error_id: str, text: str) -> str:
    """Our explanation and the next step, with Outreach's own text kept beside it."""
    ours = OUTREACH_ERRORS.get(error_id, "")
    theirs = text.strip()[:300]
    if ours and theirs:
        return f"{ours} (Outreach said: {theirs})"
    return ours or theirs


# --- formatting -------------------------------------------------------------------------------


def _error_detail(answer: str) -> str:
    """Outreach's own words in a JSON:API error answer (`errors[].detail`, else `title`)."""
    try:
        errors = json.loads(answer).get("errors") or []
    except (ValueError, AttributeError):
        return ""
    return "; ".join(
        str(error.get("detail") or error.get("title") or "")
        for error in errors
        if isinstance(error, dict)
    ).strip("; ")


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def pretty_text(text: str) -> str:
    """An answer as received: JSON pretty-printed, anything else as it is."""
    if not text:
        return ""
    try:
        return pretty(json.loads(text))
    except ValueError:
        return text


def _payload(call: Call, raw: Any) -> tuple[str, str]:
    """What the provider sent, as its provider sends it: form fields one a line, JSON indented."""
    if raw is None:
        return "", ""
    if isinstance(raw, str):  # a body kept as text (XML, say): JSON when it parses as JSON
        shown = pretty_text(raw)
        return shown, "json" if shown != raw or raw.lstrip()[:1] in "[{" else "text"
    try:
        types = provider_class(call.connection.kind).content_types
    except LookupError:
        types = ()
    if isinstance(raw, dict) and types and all(t == FORM for t in types):
        return "\n".join(f"{key} = {value}" for key, value in raw.items()), "form"
    return pretty(raw), "json"


def _milliseconds(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-3]
