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

Sending, open loop (the measured run): each request leaves at its *scheduled* time whatever the
earlier ones are doing, and its latency counts from then, so a slow server cannot slow the
sender down and hide its own queueing (coordinated omission). An outbound call is launched in
the sandbox (as the Outreach client does before dialling) LAUNCH_LEAD before its first event is
due; that event waits for the launch if it is late, and its latency then counts from the
launch's answer. Closed loop (capacity): clients send back to back, as fast as answers come.

The table is the tests' own (tests/calls/rules_oracle.py, as the webhooks spell it in
tests/pipeline/scenarios.py): it stays with the tests it was written for, and the benchmark
reads it from there rather than keep a second copy whose rows could drift.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from standardwebhooks.webhooks import Webhook

from bench.httpclient import HttpPool
from bench.processes import HOST
from tests.pipeline.scenarios import TABLE

EXTRA_RINGING = (1, 4)
DUPLICATE_SHARE = 0.10
RING_INTERVAL_SECONDS = 3.0
LAUNCH_LEAD = 0.05  # seconds between an outbound call's launch and its first event
INBOUND_ROWS = [row for row in TABLE if row[0] == "inbound"]  # the capacity load's calls


def agent_email(tenant: int) -> str:
    """The agent every call of this tenant names; the tenant's agent mapping knows it."""
    return f"rep{tenant}@pbx.example"


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
    rng: random.Random,
    prefix: str,
    timeline_start: datetime,
    rows: list[tuple] = TABLE,
) -> list[PlannedCall]:
    """`calls` whole calls, the table's rows in turn, spread over `tenants` organisations;
    each call's events in sending order, redeliveries included."""
    planned = []
    for index in range(calls):
        direction, result, happenings, final = rows[index % len(rows)]
        call = PlannedCall(f"{prefix}-{index}", index % tenants, direction, result, final)
        timeline = _timeline(call, happenings, rng)
        common = {
            "call_id": call.provider_call_id,
            "direction": direction,
            "to": "+12065550100",
            "from": f"+1415555{index % 10000:04d}",
            "agent": {"email": agent_email(call.tenant)},
        }
        call.events = [
            PlannedEvent(
                call,
                {
                    "id": f"{call.provider_call_id}:{number}:{happening}",
                    "happening": happening,
                    "occurred_at": (timeline_start + timedelta(seconds=at)).isoformat(),
                    **common,
                    **({"link": link} if link else {}),
                },
            )
            for number, (happening, at, link) in enumerate(timeline)
        ]
        planned.append(call)
    _redeliver_and_shuffle(planned, rng)
    return planned


def _timeline(
    call: PlannedCall, happenings: list[str], rng: random.Random
) -> list[tuple[str, float, str]]:
    """(happening, second into the call, link) of the row's happenings, with what a real PBX
    adds: "still ringing" repeats, and a recording once a call completes. Sets the call's
    voicemail and recording links, which its end state in Outreach should carry."""
    second = 0.0
    timeline: list[tuple[str, float, str]] = []
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
    if call.final_state == "completed":
        call.recording = f"https://rec.example/{call.provider_call_id}.mp3"
        timeline.append(("recording_ready", second + rng.uniform(1, 5), call.recording))
    return timeline


def _redeliver_and_shuffle(planned: list[PlannedCall], rng: random.Random) -> None:
    """A share of all events sent twice (a provider's redelivery repeats the id), then each
    call's events shuffled: a PBX's webhooks arrive in no promised order."""
    originals = [event for call in planned for event in call.events]
    for event in rng.sample(originals, k=round(len(originals) * DUPLICATE_SHARE)):
        event.call.events.append(PlannedEvent(event.call, event.payload))
    for call in planned:
        rng.shuffle(call.events)
        seen: set[str] = set()
        for event in call.events:  # whichever copy goes first is the original
            event.duplicate = event.key in seen
            seen.add(event.key)


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


@dataclass
class Planner:
    """Plans every load of one run from one random sequence, in the order the run asks (warm-up,
    measured run, capacity), so one seed reproduces the whole run."""

    tenants: int
    spread: float  # seconds over which one call's events go out
    rng: random.Random
    # Each call's own timeline starts here: minutes in the past, as a PBX reports calls.
    timeline_start: datetime = field(
        default_factory=lambda: datetime.now(UTC) - timedelta(minutes=5)
    )

    def plan(
        self, prefix: str, calls: int, rate: float, **extra: Any
    ) -> tuple[list[PlannedCall], list[PlannedEvent]]:
        planned = plan_calls(
            calls=calls,
            tenants=self.tenants,
            rng=self.rng,
            prefix=prefix,
            timeline_start=self.timeline_start,
            **extra,
        )
        return planned, schedule(planned, rate=rate, spread=self.spread, rng=self.rng)


# Sending ---------------------------------------------------------------------------------------


@dataclass
class Tenant:
    """An organisation as the load sees it: its webhook's address and signing key, and the
    Outreach rep its outbound calls are launched for."""

    index: int
    webhook_path: str
    signing_secret: str  # signs its webhooks, and the dials its phone system receives
    rep_outreach_id: int
    rep_token: str  # the rep's API token, for click-to-dial

    @cached_property
    def webhook(self) -> Webhook:
        return Webhook(self.signing_secret)


@dataclass
class Sent:
    """One webhook request of an open-loop stream."""

    events: list[PlannedEvent]
    scheduled_wall: float  # when it was due, wall clock
    latency: float = math.nan  # seconds from when it was due (or the late launch) to its answer
    answered_wall: float = math.nan
    status: int = 0
    waited_for_launch: bool = False


@dataclass
class Dial:
    """One click-to-dial of the measured run: launched in the sandbox as Outreach does when a
    rep clicks Call, then handed to `POST /api/v1/dial` as the Chrome extension does."""

    tenant: int
    send_at: float  # seconds after the start of the run
    outreach_call_id: str = ""
    sent_wall: float = math.nan  # when the dial request left, wall clock
    status: int = 0
    answer_seconds: float = math.nan  # until the dial API answered


def plan_dials(*, rate: float, seconds: float, tenants: int) -> list[Dial]:
    """`rate` dials per second, evenly over the `seconds` the webhook load is sent, the tenants
    in turn."""
    count = int(rate * seconds)
    return [Dial(index % tenants, index / rate) for index in range(count)]


def webhook_request(tenant: Tenant, events: list[PlannedEvent]) -> tuple[bytes, dict[str, str]]:
    """The body and signed headers of one generic-webhook request carrying `events`."""
    payloads = []
    for event in events:
        payload = dict(event.payload)
        if event.call.outreach_call_id:
            payload["outreach_call_id"] = event.call.outreach_call_id
        payloads.append(payload)
    body = json.dumps({"events": payloads})
    # One event per request: a redelivery repeats the message id, as providers do.
    msg_id = "msg_" + (events[0].key if len(events) == 1 else secrets.token_hex(12))
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": tenant.webhook.sign(msg_id, datetime.now(UTC), body),
    }
    return body.encode(), headers


def send_open_loop(
    calls: list[PlannedCall],
    stream: list[PlannedEvent],
    *,
    tenants: list[Tenant],
    web_port: int,
    sandbox_port: int,
    batch: int,
    dials: list[Dial] = [],  # noqa: B006 - never changed, only read
) -> tuple[list[Sent], float]:
    """Sends `stream` at its schedule, and `dials` at theirs, on fresh connections to gunicorn
    and the sandbox. Answers the requests and the wall-clock start of the schedule."""

    async def send() -> tuple[list[Sent], float]:
        web, sandbox = HttpPool(HOST, web_port), HttpPool(HOST, sandbox_port)
        try:
            return await OpenLoop(calls, tenants, web, sandbox).send(stream, batch, dials)
        finally:
            await web.close()
            await sandbox.close()

    return asyncio.run(send())


class OpenLoop:
    """One open-loop stream: the outbound launches and the webhook requests, each at its time."""

    def __init__(
        self, calls: list[PlannedCall], tenants: list[Tenant], web: HttpPool, sandbox: HttpPool
    ) -> None:
        self.calls, self.tenants, self.web, self.sandbox = calls, tenants, web, sandbox
        self.loop = asyncio.get_running_loop()
        # A head start, so the first launch (due LAUNCH_LEAD before the first event) is not
        # late before anything was sent.
        self.start = self.loop.time() + 0.5
        self.start_wall = time.time() + 0.5
        self.launches: dict[str, asyncio.Task] = {}
        self.launched_at: dict[str, float] = {}

    async def send(
        self, stream: list[PlannedEvent], batch: int, dials: list[Dial]
    ) -> tuple[list[Sent], float]:
        for call in self.calls:
            if call.direction == "outbound":
                self.launches[call.provider_call_id] = asyncio.create_task(self.launch(call))
        dialling = [asyncio.create_task(self.dial(dial)) for dial in dials]
        requests: list[Sent] = []
        tasks = []
        for index in range(0, len(stream), batch):
            # A batch holds one tenant's events only; a PBX sends its own calls.
            for events in _by_tenant(stream[index : index + batch]):
                request = Sent(events, scheduled_wall=self.start_wall + events[0].send_at)
                requests.append(request)
                due = self.start + events[0].send_at
                delay = due - self.loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(self.post(request, due)))
        await asyncio.gather(*tasks, *self.launches.values(), *dialling)
        return requests, self.start_wall

    async def dial(self, dial: Dial) -> None:
        """A rep's click: Outreach creates the call, the extension posts it to the dial API."""
        await asyncio.sleep(max(0.0, self.start + dial.send_at - self.loop.time()))
        tenant = self.tenants[dial.tenant]
        dial.outreach_call_id = await self._launch(tenant, "+12065550123")
        body = json.dumps(
            {"callId": dial.outreach_call_id, "phoneNumber": "+12065550123", "source": "outreach"}
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {tenant.rep_token}",
        }
        dial.sent_wall, began = time.time(), self.loop.time()
        try:
            dial.status, _ = await self.web.request(
                "POST", "/api/v1/dial", body=body, headers=headers
            )
        except OSError:
            dial.status = -1
        dial.answer_seconds = self.loop.time() - began

    async def launch(self, call: PlannedCall) -> None:
        """Launches an outbound call in the sandbox, as the Outreach client does before dialling;
        the call's events then carry the Outreach id it answers."""
        due = self.start + call.first_send_at - LAUNCH_LEAD
        await asyncio.sleep(max(0.0, due - self.loop.time()))
        call.outreach_call_id = await self._launch(self.tenants[call.tenant], "+12065550100")
        self.launched_at[call.provider_call_id] = self.loop.time()

    async def _launch(self, tenant: Tenant, to: str) -> str:
        """The Outreach call id the sandbox created for the tenant's rep calling `to`."""
        body = json.dumps({"userId": tenant.rep_outreach_id, "to": to}).encode()
        status, answer = await self.sandbox.request(
            "POST", "/_control/calls", body=body, headers={"Content-Type": "application/json"}
        )
        if status != 201:
            raise RuntimeError(f"the sandbox refused a launch: {status} {answer[:300]!r}")
        return str(json.loads(answer)["id"])

    async def post(self, request: Sent, due: float) -> None:
        for event in request.events:
            launch = self.launches.get(event.call.provider_call_id)
            if launch is not None and not launch.done():
                request.waited_for_launch = True
                await launch
        if request.waited_for_launch:
            # A late launch is the sandbox's delay, not the webhook's: count from its answer.
            due = max(
                due, *(self.launched_at.get(e.call.provider_call_id, due) for e in request.events)
            )
        tenant = self.tenants[request.events[0].call.tenant]
        body, headers = webhook_request(tenant, request.events)
        try:
            request.status, _ = await self.web.request(
                "POST", tenant.webhook_path, body=body, headers=headers
            )
        except OSError:
            request.status = -1  # refused or reset: counted as an error
        request.latency = self.loop.time() - due
        request.answered_wall = time.time()


def _by_tenant(events: list[PlannedEvent]) -> list[list[PlannedEvent]]:
    groups: dict[int, list[PlannedEvent]] = {}
    for event in events:
        groups.setdefault(event.call.tenant, []).append(event)
    return list(groups.values())


@dataclass
class ClosedLoop:
    """What `concurrency` clients sending back to back got done."""

    seconds: float
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def send_closed_loop(
    port: int,
    requests: Iterator[tuple[str, bytes, dict[str, str]]],
    *,
    seconds: float,
    concurrency: int,
) -> ClosedLoop:
    """As many of `requests` (path, body, headers) as `concurrency` clients sending back to back
    can make in `seconds`, on fresh connections to `port`."""

    async def send() -> ClosedLoop:
        pool = HttpPool(HOST, port)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        result = ClosedLoop(seconds=0.0, concurrency=concurrency)

        async def client() -> None:
            while loop.time() < deadline:
                try:
                    path, body, headers = next(requests)
                except StopIteration:
                    return
                began = loop.time()
                status, _ = await pool.request("POST", path, body=body, headers=headers)
                result.latencies.append(loop.time() - began)
                result.statuses[status] += 1

        began = loop.time()
        try:
            await asyncio.gather(*(client() for _ in range(concurrency)))
            result.seconds = loop.time() - began
        finally:
            await pool.close()
        return result

    return asyncio.run(send())


def signed_requests(
    tenants: list[Tenant], stream: list[PlannedEvent]
) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    """Each event of `stream` as its own signed webhook request, made as it is asked for."""
    for event in stream:
        tenant = tenants[event.call.tenant]
        yield (tenant.webhook_path, *webhook_request(tenant, [event]))


def repeat(item: Any) -> Iterator[Any]:
    while True:
        yield item
