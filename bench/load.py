"""The benchmark's load: whole calls from the seed's final-state table, as a PBX would send them.

Each call follows one row of tests/pipeline/scenarios.py's TABLE (rows taken in turn, so the mix
is even: half inbound, half outbound), plus what a real PBX adds:

- "still ringing" repeats: 1-4 more `ringing` events, each with its own id, after the first;
- `recording_ready` for every completed call (the table's voicemail rows already carry
  `voicemail_left` for inbound busy / no answer);
- 10% of all events sent twice (same id: a provider's redelivery);
- each call's events shuffled, then spread over `spread` seconds from the call's start.

Calls start evenly over the run and their events interleave; the merged stream is then sent at
a fixed rate, one event per request (or `batch` events of consecutive slots per request).
Times (`occurred_at`) are each call's own timeline, minutes in the past, as a PBX reports them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.pipeline.scenarios import TABLE

EXTRA_RINGING = (1, 4)
DUPLICATE_SHARE = 0.10
RING_INTERVAL_SECONDS = 3.0


@dataclass(eq=False)
class PlannedEvent:
    call: PlannedCall
    payload: dict[str, Any]  # without outreach_call_id: outbound calls learn it at launch
    duplicate: bool = False  # a repeat of an event sent earlier (same id)
    send_at: float = 0.0  # seconds after the start of the run

    @property
    def happening(self) -> str:
        return self.payload["happening"]

    @property
    def key(self) -> str:
        return self.payload["id"]


@dataclass(eq=False)
class PlannedCall:
    provider_call_id: str
    tenant: int
    direction: str
    result: str  # the table's "Result" column
    final_state: str
    recording: str = ""
    voicemail: str = ""
    events: list[PlannedEvent] = field(default_factory=list)  # in sending order
    outreach_call_id: str = ""  # outbound: from the launch just before the first event

    @property
    def first_send_at(self) -> float:
        return self.events[0].send_at


def plan_calls(
    *,
    calls: int,
    tenants: int,
    agent_email: Any,
    rng: random.Random,
    prefix: str,
    timeline_start: datetime,
    rows: list[tuple] = TABLE,
) -> list[PlannedCall]:
    planned = []
    for index in range(calls):
        direction, result, happenings, final = rows[index % len(rows)]
        call = PlannedCall(f"{prefix}-{index}", index % tenants, direction, result, final)
        common = {
            "call_id": call.provider_call_id,
            "direction": direction,
            "to": "+12065550100",
            "from": f"+1415555{index % 10000:04d}",
            "agent": {"email": agent_email(call.tenant)},
        }
        second = 0.0
        timeline: list[tuple[str, float, str]] = []  # happening, second, link
        for happening in happenings:
            if happening == "voicemail_left":
                call.voicemail = f"https://vm.example/{call.provider_call_id}.mp3"
            timeline.append(
                (happening, second, call.voicemail if happening == "voicemail_left" else "")
            )
            if happening == "ringing":
                for _ in range(rng.randint(*EXTRA_RINGING)):
                    second += RING_INTERVAL_SECONDS
                    timeline.append(("ringing", second, ""))
            second += rng.uniform(0.5, 20)
        if final == "completed":
            call.recording = f"https://rec.example/{call.provider_call_id}.mp3"
            timeline.append(("recording_ready", second + rng.uniform(1, 5), call.recording))
        events = [
            {
                "id": f"{call.provider_call_id}:{number}:{happening}",
                "happening": happening,
                "occurred_at": (timeline_start + timedelta(seconds=at)).isoformat(),
                **common,
                **({"link": link} if link else {}),
            }
            for number, (happening, at, link) in enumerate(timeline)
        ]
        call.events = [PlannedEvent(call, payload) for payload in events]
        planned.append(call)

    originals = [event for call in planned for event in call.events]
    for event in rng.sample(originals, k=round(len(originals) * DUPLICATE_SHARE)):
        event.call.events.append(PlannedEvent(event.call, event.payload))
    for call in planned:
        rng.shuffle(call.events)
        seen: set[str] = set()
        for event in call.events:  # whichever copy goes first is the original
            event.duplicate = event.key in seen
            seen.add(event.key)
    return planned


def schedule(
    calls: list[PlannedCall], *, rate: float, spread: float, rng: random.Random
) -> list[PlannedEvent]:
    """Every event's send time: calls start evenly, each call's events within `spread` seconds
    of its start, then the merged stream goes out at exactly `rate` events per second."""
    total = sum(len(call.events) for call in calls)
    duration = total / rate
    placed: list[tuple[float, int, PlannedEvent]] = []
    for index, call in enumerate(calls):
        start = duration * index / len(calls)
        offsets = sorted(rng.uniform(0, spread) for _ in call.events)
        placed += [
            (start + offset, len(placed), event)
            for offset, event in zip(offsets, call.events, strict=True)
        ]
    placed.sort(key=lambda item: (item[0], item[1]))
    stream = [event for _, _, event in placed]
    for slot, event in enumerate(stream):
        event.send_at = slot / rate
    for call in calls:
        call.events.sort(key=lambda event: event.send_at)
    return stream
