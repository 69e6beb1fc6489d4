"""Turning what was sent and what the sandbox received into the benchmark's figures.

Event-to-Outreach latency, the matching rule: an event's *effect* is the Outreach state its
happening implies (calls.rules.implied_state: dialling -> initiated, ringing -> ringing, answered
-> in progress, a terminal happening -> a final state), or its link (recording_ready ->
recordingUrl, voicemail_left -> voicemailUrl). The sandbox's request log gives every accepted
(status < 400) PATCH /api/v2/calls/{id} with its wall-clock `receivedAt`. The request that
carried an event's effect is the first accepted PATCH to the event's Outreach call, received at
or after the event was sent, that carries a state at or beyond the event's state in Outreach's
order (initiated < ringing < in progress < final; the pipeline coalesces pending states into the
furthest, so a `ringing` may reach Outreach as `in progress`), or carries the event's link. The
latency is that `receivedAt` minus the event's scheduled send time (wall clock, same machine).

Excluded, and counted: duplicates (only the first copy of an id counts); events whose effect
Outreach already had before they were sent (a `ringing` repeat after the call was answered); and
events with no effect on Outreach (none in this load). An event whose effect never arrives is
counted as undelivered.

Also here: waiting until the pipeline has no work left, reading what Outreach (the sandbox) and
our own call rows ended with, the CPU time and memory of every process from /proc, and turning
it all into the figures the report shows.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from bench.load import ClosedLoop, Dial, PlannedCall, Sent
from bench.processes import HOST
from calls.rules import Direction, Happening, OutreachState, implied_state, rank
from outreach_sandbox.control import SandboxControl

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (share in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 0.50),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else None,
    }


@dataclass
class Delivered:
    at: float  # wall clock, seconds since the epoch
    rank: int  # the state's rank, -1 without a state
    links: tuple[str, ...]


@dataclass
class EventLatencies:
    seconds: list[float] = field(default_factory=list)
    by_happening: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    already_there: int = 0
    no_effect: int = 0
    undelivered: list[str] = field(default_factory=list)


def deliveries(log: Iterable[dict[str, Any]]) -> dict[str, list[Delivered]]:
    """Accepted PATCHes per Outreach call id, in the order the sandbox received them."""
    found: dict[str, list[Delivered]] = defaultdict(list)
    for entry in log:
        if entry["method"] != "PATCH" or entry["status"] >= 400:
            continue
        outreach_id = entry["path"].rsplit("/", 1)[-1]
        attributes = _attributes(entry["requestBody"])
        state = attributes.get("state")
        found[outreach_id].append(
            Delivered(
                at=datetime.fromisoformat(entry["receivedAt"]).timestamp(),
                rank=rank(OutreachState(state) if state else None),
                links=tuple(
                    attributes[name]
                    for name in ("recordingUrl", "voicemailUrl")
                    if attributes.get(name)
                ),
            )
        )
    for requests in found.values():
        requests.sort(key=lambda delivered: delivered.at)
    return found


def _attributes(body: str) -> dict[str, Any]:
    try:
        return json.loads(body)["data"]["attributes"] or {}
    except (ValueError, KeyError, TypeError):
        return {}


def event_latencies(
    sent: Iterable[tuple[str, dict[str, Any], float]],
    delivered: dict[str, list[Delivered]],
) -> EventLatencies:
    """`sent`: (Outreach call id, payload, wall-clock send time) of each event's first copy."""
    result = EventLatencies()
    for outreach_id, payload, sent_at in sent:
        happening = Happening(payload["happening"])
        state = implied_state(happening, Direction(payload["direction"]))
        link = payload.get("link") or ""
        if state is None and not link:
            result.no_effect += 1
            continue

        def carries(request: Delivered, state: Any = state, link: str = link) -> bool:
            return link in request.links if link else request.rank >= rank(state)

        requests = [r for r in delivered.get(outreach_id, []) if carries(r)]
        if any(r.at < sent_at for r in requests):
            result.already_there += 1
            continue
        if not requests:
            result.undelivered.append(payload["id"])
            continue
        latency = requests[0].at - sent_at
        result.seconds.append(latency)
        result.by_happening[happening].append(latency)
    return result


# Waiting and collecting -----------------------------------------------------------------------


def wait_until_settled(prefix: str, expected: int, timeout: float) -> float | None:
    """Seconds until every call of this prefix exists and none has work left (status active);
    None if there was still work after `timeout` seconds."""
    from django.db import close_old_connections

    from calls.models import Call, CallStatus

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        calls = Call.objects.filter(provider_call_id__startswith=f"{prefix}-")
        if calls.count() >= expected and not calls.filter(status=CallStatus.ACTIVE).exists():
            return time.monotonic() - began
        close_old_connections()
        time.sleep(0.25)
    return None


def log_length(control: SandboxControl) -> int:
    """The sandbox's request log has no length; a request it logs tells its own index."""
    control.config()
    return control.requests(path_prefix="/_control/config")[-1]["index"] + 1


@dataclass
class OutreachView:
    """What Outreach ended with: each call against the table, the outbound calls' launch
    reports, and every API request the sandbox logged during the measured run."""

    correctness: dict[str, Any]
    launches: list[dict[str, Any]]
    log: list[dict[str, Any]]


def outreach_view(calls: list[PlannedCall], control: SandboxControl, *, since: int) -> OutreachView:
    correctness, launches = check_calls(calls, control)
    log = [entry for entry in control.requests(since=since) if entry["path"].startswith("/api/v2")]
    return OutreachView(correctness, launches, log)


def check_calls(
    calls: list[PlannedCall], control: SandboxControl
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compares every call's end state in Outreach with the table; answers the counts and each
    outbound call's launch report. Gives each call the Outreach id our row has, which the
    latencies are matched on."""
    from calls.models import Call

    ours = {
        row["provider_call_id"]: row
        for row in Call.objects.filter(
            provider_call_id__in=[call.provider_call_id for call in calls]
        ).values("provider_call_id", "outreach_call_id", "status", "problem")
    }
    wrong, statuses, launches = [], Counter(), []
    for call in calls:
        row = ours.get(call.provider_call_id)
        statuses[row["status"] if row else "missing"] += 1
        if not row or not row["outreach_call_id"]:
            wrong.append({"call": call.provider_call_id, "problem": "no Outreach call"})
            continue
        call.outreach_call_id = row["outreach_call_id"]
        view = control.call(row["outreach_call_id"])
        attributes = view["call"]["attributes"]
        seen = (
            attributes.get("state"),
            attributes.get("recordingUrl"),
            attributes.get("voicemailRecordingUrl"),
        )
        expected = (call.final_state, call.recording or None, call.voicemail or None)
        if seen != expected:
            wrong.append({"call": call.provider_call_id, "seen": seen, "expected": expected, **row})
        if call.direction == "outbound" and view["launch"]:
            launches.append(view["launch"])
    return {
        "calls": len(calls),
        "as_the_table_says": len(calls) - len(wrong),
        "wrong": wrong[:20],
        "our_status": dict(statuses),
    }, launches


# Figures -------------------------------------------------------------------------------------


@dataclass
class MeasuredRun:
    """What the measured run's sending and waiting recorded."""

    requests: list[Sent]
    start_wall: float  # when the schedule began, wall clock
    sent_seconds: float
    drain: float | None  # seconds from the first send until no call had work; None: never
    window_seconds: float  # from the first send until settled (or given up)
    cpu: dict[str, float]  # CPU seconds per group of processes during the window
    sessions: int  # PostgreSQL connections opened during the window
    profiles: dict[str, Any]
    dials: list[Dial]  # the click-to-dials sent beside the webhook load


def in_ms(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (round(value * 1000, 1) if isinstance(value, float) else value)
        for name, value in figures.items()
    }


def ingest_rate(run: MeasuredRun) -> float:
    """Requests answered per second, from the schedule's start to the last answer."""
    finished = max(request.answered_wall for request in run.requests)
    return len(run.requests) / (finished - run.start_wall)


def ingest_figures(run: MeasuredRun) -> dict[str, Any]:
    ok = [request for request in run.requests if request.status == 200]
    return {
        "requests_per_second": round(ingest_rate(run), 1),
        "sending_seconds": round(run.sent_seconds, 2),
        "latency_ms": in_ms(summary([request.latency for request in ok])),
        "non_200": dict(Counter(r.status for r in run.requests if r.status != 200)),
        "waited_for_a_late_launch": sum(1 for r in run.requests if r.waited_for_launch),
    }


def outreach_figures(run: MeasuredRun, view: OutreachView) -> dict[str, Any]:
    first_copies = [
        (event.call.outreach_call_id, event.payload, request.scheduled_wall)
        for request in run.requests
        for event in request.events
        if not event.duplicate
    ]
    latencies = event_latencies(first_copies, deliveries(view.log))
    launches = view.launches
    delays = [
        launch["initiatedDelaySeconds"]
        for launch in launches
        if launch["initiatedDelaySeconds"] is not None
    ]
    within = sum(1 for launch in launches if launch["initiatedWithin5s"])
    answers = [entry["durationMs"] for entry in view.log]
    return {
        "event_to_outreach_ms": in_ms(summary(latencies.seconds)),
        "by_happening_ms": {
            name: in_ms(summary(values)) for name, values in sorted(latencies.by_happening.items())
        },
        "events_already_in_outreach_when_sent": latencies.already_there,
        "events_without_effect": latencies.no_effect,
        "events_never_delivered": len(latencies.undelivered),
        "undelivered_examples": latencies.undelivered[:10],
        "initiated_within_5s": round(within / len(launches), 4) if launches else None,
        "initiated_delay_ms": in_ms(summary(delays)),
        "outbound_launched": len(launches),
        "drain_seconds_after_last_send": round(run.drain, 2) if run.drain is not None else None,
        "api_requests": len(view.log),
        "sandbox_answer_ms": {"p50": percentile(answers, 0.5), "p99": percentile(answers, 0.99)},
    }


def dial_figures(run: MeasuredRun, view: OutreachView) -> dict[str, Any]:
    """Click-to-dial under the webhook load: from the dial request leaving to Outreach having
    `initiated` (the sandbox's own receipt time), and how the dial API answered."""
    delivered = deliveries(view.log)
    initiated = rank(OutreachState.INITIATED)
    seconds, missing = [], []
    for dial in run.dials:
        reached = [r.at for r in delivered.get(dial.outreach_call_id, []) if r.rank >= initiated]
        if reached:
            seconds.append(reached[0] - dial.sent_wall)
        else:
            missing.append(dial.outreach_call_id)
    return {
        "dials": len(run.dials),
        "dial_to_initiated_ms": in_ms(summary(seconds)),
        "initiated_within_5s": round(sum(1 for s in seconds if s < 5) / len(run.dials), 4)
        if run.dials
        else None,
        "never_initiated": len(missing),
        "answers": dict(Counter(dial.status for dial in run.dials)),
        "answer_ms": in_ms(summary([dial.answer_seconds for dial in run.dials])),
    }


def correctness_figures(calls: list[PlannedCall], view: OutreachView) -> dict[str, Any]:
    refusals = Counter(
        f"{entry['status']} {entry['refusedBy'] or ''}".strip()
        for entry in view.log
        if entry["status"] >= 400
    )
    creates = sum(1 for e in view.log if e["method"] == "POST" and e["path"] == "/api/v2/calls")
    # Outbound calls are created by their launch (the sandbox's control API, not in this log);
    # each inbound call should be created exactly once, however often its events came.
    inbound = sum(1 for call in calls if call.direction == "inbound")
    return {
        **view.correctness,
        "sandbox_refusals": dict(refusals),
        "creates": creates,
        "duplicate_creates": creates - inbound,
    }


def closed_loop_figures(loop: ClosedLoop) -> dict[str, Any]:
    return {
        "requests": len(loop.latencies),
        "seconds": round(loop.seconds, 3),
        "per_second": round(len(loop.latencies) / loop.seconds, 1),
        "concurrency": loop.concurrency,
        "statuses": dict(loop.statuses),
        "latency_ms": in_ms(summary(loop.latencies)),
    }


# Processes: CPU time and peak memory from /proc ----------------------------------------------


def process_groups(pids: dict[str, int]) -> dict[str, list[int]]:
    """The processes whose CPU time the report shows, by what they are: ours, and the
    PostgreSQL, Redis and load generator they compete with for the same cores."""
    return {
        "gunicorn": descendants(pids["gunicorn"]),
        "celery worker": descendants(pids["celery worker"]),
        "beat": descendants(pids["beat"]),
        "sandbox": descendants(pids["sandbox"]) if pids["sandbox"] else [],
        "postgres": processes_named("postgres"),
        "redis": processes_named("redis-server"),
        "load generator (this)": [os.getpid()],
    }


@dataclass
class Usage:
    """CPU seconds per group and PostgreSQL connections opened, between `start` and `stop`."""

    groups: dict[str, list[int]]
    database: str
    cpu_before: dict[str, float]
    busy_before: float
    sessions_before: int

    @classmethod
    def start(cls, groups: dict[str, list[int]], database: str) -> Usage:
        cpu_before = {name: cpu_seconds(members) for name, members in groups.items()}
        busy_before = machine_busy_seconds()
        return cls(groups, database, cpu_before, busy_before, database_sessions(database))

    def stop(self) -> tuple[dict[str, float], int]:
        cpu = {
            name: cpu_seconds(members) - self.cpu_before[name]
            for name, members in self.groups.items()
        }
        # Anything else on the machine competes for the same cores: the kernel's own work for
        # loopback networking (softirq), another test run...
        cpu["everything else"] = machine_busy_seconds() - self.busy_before - sum(cpu.values())
        return cpu, database_sessions(self.database) - self.sessions_before


def database_sessions(name: str) -> int:
    """Connections ever opened to the database (PostgreSQL 14+ counts them)."""
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/postgres") as db:
        row = db.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [name]
        ).fetchone()
    return int(row[0]) if row else 0


def peak_rss(pids: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Each group's peak resident memory: its largest process and all of them together."""
    found = {}
    for name, pid in pids.items():
        if not pid:
            continue
        members = [peak_rss_mb(member) for member in descendants(pid)]
        known = [mb for mb in members if mb is not None]
        found[name] = {
            "processes": len(known),
            "largest_mb": round(max(known), 1) if known else None,
            "total_mb": round(sum(known), 1),
        }
    return found


def descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat:
                children[int(stat[1])].append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, ...]."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time of these processes and of their children that have exited (a PostgreSQL backend
    whose connection closed, say: its parent reaped it, so its time is in the parent's)."""
    total = 0
    for pid in pids:
        stat = _stat(pid)
        if stat:
            total += sum(int(value) for value in stat[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores, any process) since boot."""
    with open("/proc/stat") as file:
        fields = [int(value) for value in file.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as file:
                    if file.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
