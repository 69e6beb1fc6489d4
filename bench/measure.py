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
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calls.rules import Direction, Happening, OutreachState, implied_state, rank

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


# Processes: CPU time and peak memory from /proc ----------------------------------------------


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
