"""The seed's final-state table (000, "Call states") as provider happenings, and a generator of
whole calls for the load and fault tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tests.calls.rules_oracle import TABLE as ORACLE_TABLE

# (direction, the table's "Result", happenings in the order they happen, final state): the one
# final-state table of the tests (tests/calls/rules_oracle.py), as the webhooks spell it.
TABLE = [
    (str(row.direction), row.result, [str(h) for h in row.happenings], str(row.final))
    for row in ORACLE_TABLE
]


@dataclass
class PlannedCall:
    provider_call_id: str
    direction: str
    final_state: str
    events: list[dict[str, Any]]
    outreach_call_id: str = ""
    recording: str = ""
    voicemail: str = ""


def planned_call(pipeline: Any, index: int, row: tuple, *, rng: random.Random) -> PlannedCall:
    direction, _, happenings, final = row
    call_id = f"load-{index}"
    extra: dict[str, Any] = {
        "direction": direction,
        "to": "+12065550100",
        "from": f"+1415555{index % 10000:04d}",
    }
    planned = PlannedCall(call_id, direction, final, [])
    if direction == "outbound":
        launched = pipeline.sandbox.launch_call(pipeline.rep_outreach_id, "+12065550100")
        planned.outreach_call_id = extra["outreach_call_id"] = str(launched["id"])
    seconds = 0.0
    for happening in happenings:
        link = {}
        if happening == "voicemail_left":
            planned.voicemail = link["link"] = f"https://vm.example/{call_id}.mp3"
        planned.events.append(pipeline.event(call_id, happening, seconds, **extra, **link))
        seconds += rng.uniform(0.5, 20)
    if final == "completed" and rng.random() < 0.7:
        planned.recording = f"https://rec.example/{call_id}.mp3"
        planned.events.append(
            pipeline.event(call_id, "recording_ready", seconds + 1, **extra, link=planned.recording)
        )
    return planned


def shuffled_batches(
    calls: list[PlannedCall], *, rng: random.Random, repeated: float = 0.2, size: int = 7
) -> list[list[dict[str, Any]]]:
    """The calls' events as a busy PBX delivers them: calls interleaved, events out of order,
    a share of them sent twice, a few events per request."""
    arrivals = []
    for planned in calls:
        events = list(planned.events)
        events += rng.sample(events, k=max(1, int(len(events) * repeated)))
        arrivals.extend(events)
    rng.shuffle(arrivals)
    return [arrivals[start : start + size] for start in range(0, len(arrivals), size)]
