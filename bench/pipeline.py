"""The pipeline benchmark: real processes, a fixed event rate, the sandbox's clock as the judge.

    .venv/bin/python -m bench.pipeline [--calls 1000] [--rate 300] [--workers 2] [--web-workers 2]

What it starts, all on 127.0.0.1 and all stopped at the end, even on failure or Ctrl-C:
the Outreach sandbox (rate limit raised, mint window off), a fresh PostgreSQL database
(`callbridge_bench`, dropped and migrated each run), gunicorn (`portal.wsgi` with
`DJANGO_SETTINGS_MODULE=bench.settings`, which only adds the bare view `/bench/ok`), one Celery
worker with `--workers` prefork processes on both queues, and beat, with Redis database
`--redis-db` as the broker (the tests use 1-15).

gunicorn runs 2 gthread processes of 4 threads by default, the fastest we measured on two cores:
a thread waiting on PostgreSQL or Redis leaves the core to another, connections are kept alive,
and it takes half the memory of 4 sync processes. 4 sync workers were slower in every run here:
since gunicorn 27 a sync worker closes every connection gracefully, waiting for the client's own
close before it takes the next request, so its throughput depends on the client's promptness.

Settings come from the environment, DEBUG off.
Organisations, Outreach connections, generic provider connections and agent mappings are made
through the product's services in this process.

What it does:

1. warm-up: 28 calls (two of each table row) at 100 events/s, until Outreach has them all;
2. the measured run: `--calls` calls from bench/load.py sent open-loop at exactly `--rate`
   events/s, one event per request. Each request's latency counts from its *scheduled* time,
   so a slow server cannot slow the sender down and hide its own queueing (coordinated
   omission). An outbound call is launched in the sandbox (as the Outreach client does before
   dialling) 50 ms before its first event is scheduled; that first event waits for the launch
   if it is late, and its latency then counts from the launch's answer;
3. waits until no call has work left, then reads the sandbox's request log, its view of every
   call (final state, links, launch report) and our own call rows: correctness, refusals,
   duplicate creates, event-to-Outreach latency (matching rule: bench/measure.py);
4. the same gunicorn's throughput on the bare view, closed-loop for `--bare-seconds`, and the
   webhook's own closed-loop throughput (fresh inbound calls) for `--capacity-seconds`;
5. prints a table and writes it all to var/bench/latest.json; process logs in var/bench/logs/.

`--profile` runs py-spy (pip install py-spy) on gunicorn and the worker during the measured
run and summarises where their CPU went (bench/profile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from bench.httpclient import HttpPool
from bench.load import PlannedCall, PlannedEvent, plan_calls, schedule
from bench.measure import (
    cpu_seconds,
    deliveries,
    descendants,
    event_latencies,
    machine_busy_seconds,
    peak_rss_mb,
    percentile,
    processes_named,
    summary,
)
from bench.processes import HOST, REPO, free_port, running, venv_environment, wait_for_http
from outreach_sandbox.control import SandboxControl
from outreach_sandbox.launcher import sandbox_process
from tests.pipeline.scenarios import TABLE

OUT = REPO / "var" / "bench"
LAUNCH_LEAD = 0.05  # seconds between an outbound call's launch and its first event
TARGETS = {"ingest_p99_ms": 50.0, "outreach_p99_ms": 500.0, "initiated_within_5s": 1.0}


def agent_email(tenant: int) -> str:
    return f"rep{tenant}@pbx.example"


# Settings, database, tenants ------------------------------------------------------------------


def environment(args: argparse.Namespace, *, sandbox_url: str, web_port: int) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "off",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "off",
        "PUBLIC_BASE_URL": f"http://{HOST}:{web_port}",
        "DATABASE_URL": f"postgres://postgres@{HOST}:5432/{args.database}",
        "CELERY_BROKER_URL": f"redis://{HOST}:6379/{args.redis_db}",
        "OUTREACH_API_URL": f"{sandbox_url}/api/v2",
        "OUTREACH_OAUTH_URL": f"{sandbox_url}/oauth",
        "OUTREACH_CLIENT_ID": "callbridge-dev",
        "OUTREACH_CLIENT_SECRET": "callbridge-dev-secret",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHONUNBUFFERED": "1",
    }


def database_recreate(name: str) -> None:
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')


def database_sessions(name: str) -> int:
    """Connections ever opened to the database (PostgreSQL 14+ counts them)."""
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/postgres") as db:
        row = db.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [name]
        ).fetchone()
    return int(row[0]) if row else 0


def broker_purge(redis_db: int) -> None:
    """Tasks a previous run left in our Redis database name calls that no longer exist."""
    import redis

    client = redis.Redis(host=HOST, port=6379, db=redis_db)
    client.delete("celery", "urgent", "unacked", "unacked_index")
    client.close()


@dataclass
class Tenant:
    index: int
    webhook_path: str
    webhook: Webhook
    rep_outreach_id: int


def tenant_create(sandbox: SandboxControl, index: int) -> Tenant:
    """An organisation as a customer sets it up: its Outreach org connected by its admin, a
    generic provider connection with a signing secret, one rep's agent email mapped."""
    from django.contrib.auth import get_user_model

    from calls.services import agent_mapping_create
    from integrations.generic.provider import GenericProvider
    from integrations.models import ProviderConnection
    from outreach_sandbox.connect import connect_sandbox_user
    from portal.tenancy.models import Membership, Organization, Role

    org = sandbox.default_org() if index == 0 else sandbox.create_org(f"Bench {index}")
    admin = sandbox.create_user(
        f"admin{index}@bench.example", first_name="Ada", last_name="Admin", org_guid=org["guid"]
    )
    rep = sandbox.create_user(
        f"rep{index}@bench.example", first_name="Rita", last_name="Rep", org_guid=org["guid"]
    )
    organization = Organization.objects.create(name=f"Bench {index}", slug=f"bench-{index}")
    owner = get_user_model().objects.create_user(
        username=f"owner{index}", email=f"owner{index}@bench.example", password=None
    )
    Membership.objects.create(organization=organization, user=owner, role=Role.ADMIN)
    connect_sandbox_user(sandbox=sandbox, organization=organization, user=admin, actor=owner)
    secret = GenericProvider().new_signing_secret()
    provider = ProviderConnection.objects.create(
        organization=organization, kind="generic", name="Bench PBX", webhook_secrets=secret
    )
    agent_mapping_create(
        organization=organization,
        kind="email",
        value=agent_email(index),
        outreach_user_id=str(rep["id"]),
    )
    return Tenant(index, f"/hooks/generic/{provider.webhook_token}/", Webhook(secret), rep["id"])


# Sending --------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One webhook request of the measured stream."""

    events: list[PlannedEvent]
    scheduled_wall: float  # when it was due, wall clock
    latency: float = math.nan  # seconds from when it was due (or the late launch) to its answer
    answered_wall: float = math.nan
    status: int = 0
    waited_for_launch: bool = False


def webhook_request(tenant: Tenant, events: list[PlannedEvent]) -> tuple[bytes, dict[str, str]]:
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


async def send_stream(
    stream: list[PlannedEvent],
    calls: list[PlannedCall],
    *,
    tenants: list[Tenant],
    web: HttpPool,
    sandbox: HttpPool,
    batch: int,
) -> tuple[list[Sent], float]:
    """Open loop: each request leaves at its scheduled time whatever the earlier ones are doing.
    Answers the requests and the wall-clock start of the schedule."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    start_wall = time.time() + 0.5
    launched: dict[str, asyncio.Task] = {}
    launched_at: dict[str, float] = {}

    async def launch(call: PlannedCall) -> None:
        await asyncio.sleep(max(0.0, start + call.first_send_at - LAUNCH_LEAD - loop.time()))
        body = json.dumps(
            {"userId": tenants[call.tenant].rep_outreach_id, "to": "+12065550100"}
        ).encode()
        status, answer = await sandbox.request(
            "POST", "/_control/calls", body=body, headers={"Content-Type": "application/json"}
        )
        if status != 201:
            raise RuntimeError(f"the sandbox refused a launch: {status} {answer[:300]!r}")
        call.outreach_call_id = str(json.loads(answer)["id"])
        launched_at[call.provider_call_id] = loop.time()

    for call in calls:
        if call.direction == "outbound":
            launched[call.provider_call_id] = asyncio.create_task(launch(call))

    async def send(request: Sent, due: float) -> None:
        for event in request.events:
            task = launched.get(event.call.provider_call_id)
            if task is not None and not task.done():
                request.waited_for_launch = True
                await task
        if request.waited_for_launch:
            due = max(due, *(launched_at.get(e.call.provider_call_id, due) for e in request.events))
        tenant = tenants[request.events[0].call.tenant]
        body, headers = webhook_request(tenant, request.events)
        try:
            request.status, _ = await web.request(
                "POST", tenant.webhook_path, body=body, headers=headers
            )
        except OSError:
            request.status = -1  # refused or reset: counted as an error
        request.latency = loop.time() - due
        request.answered_wall = time.time()

    requests: list[Sent] = []
    tasks = []
    for index in range(0, len(stream), batch):
        # A batch holds one tenant's events only; a PBX sends its own calls.
        for tenant_group in _by_tenant(stream[index : index + batch]):
            due = start + tenant_group[0].send_at
            request = Sent(tenant_group, scheduled_wall=start_wall + tenant_group[0].send_at)
            requests.append(request)
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(request, due)))
    await asyncio.gather(*tasks, *launched.values())
    return requests, start_wall


def _by_tenant(events: list[PlannedEvent]) -> list[list[PlannedEvent]]:
    groups: dict[int, list[PlannedEvent]] = {}
    for event in events:
        groups.setdefault(event.call.tenant, []).append(event)
    return list(groups.values())


async def closed_loop(
    pool: HttpPool,
    requests: Iterator[tuple[str, bytes, dict[str, str]]],
    *,
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """As many requests as `concurrency` clients sending back to back can make in `seconds`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def client() -> None:
        while loop.time() < deadline:
            try:
                path, body, headers = next(requests)
            except StopIteration:
                return
            began = loop.time()
            status, _ = await pool.request("POST", path, body=body, headers=headers)
            latencies.append(loop.time() - began)
            statuses[status] += 1

    began = loop.time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = loop.time() - began
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "concurrency": concurrency,
        "statuses": dict(statuses),
        "latency_ms": _ms(summary(latencies)),
    }


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


def check_calls(
    calls: list[PlannedCall], control: SandboxControl
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Compares every call's end state in Outreach with the table; answers the counts and each
    outbound call's launch report."""
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


def _ms(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (round(value * 1000, 1) if isinstance(value, float) else value)
        for name, value in figures.items()
    }


# The run --------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=300.0, help="events per second")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument(
        "--web-threads", type=int, default=4, help="threads per gunicorn process (>1: gthread)"
    )
    parser.add_argument("--batch", type=int, default=1, help="events per webhook request")
    parser.add_argument(
        "--spread", type=float, default=2.0, help="seconds over which one call's events go out"
    )
    parser.add_argument(
        "--tenants", type=int, default=0, help="organisations (default: 1 per 1,500 calls)"
    )
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    parser.add_argument("--bare-seconds", type=float, default=10.0)
    parser.add_argument("--capacity-seconds", type=float, default=10.0)
    parser.add_argument("--database", default="callbridge_bench")
    parser.add_argument("--redis-db", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="py-spy gunicorn and the worker")
    parser.add_argument("--output", type=Path, default=OUT / "latest.json")
    args = parser.parse_args(argv)
    # Outreach allows 10,000 requests per user per hour, and so does our own budget: one
    # organisation (one connected Outreach user) per 1,500 calls keeps each well under it.
    args.tenants = args.tenants or max(1, math.ceil(args.calls / 1500))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    args.load_before = round(os.getloadavg()[0], 2)
    if args.load_before > 0.5:
        print(f"warning: load average {args.load_before} before starting: the figures will suffer")
    (OUT / "logs").mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop what was started
    with ExitStack() as stack:
        sandbox_url = stack.enter_context(
            sandbox_process(mint_window=0, rate_limit_per_hour=1_000_000_000)
        )
        web_port = free_port()
        settings_env = environment(args, sandbox_url=sandbox_url, web_port=web_port)
        os.environ.update(settings_env)
        child_env = venv_environment(os.environ)
        print(f"database {args.database}: creating and migrating", flush=True)
        database_recreate(args.database)
        broker_purge(args.redis_db)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        control = stack.enter_context(SandboxControl(sandbox_url, timeout=60))
        tenants = [tenant_create(control, index) for index in range(args.tenants)]
        connections.close_all()

        print("starting gunicorn, the Celery worker and beat", flush=True)
        web = stack.enter_context(
            running(
                [
                    "gunicorn", "portal.wsgi",
                    "--bind", f"{HOST}:{web_port}",
                    "--workers", str(args.web_workers),
                    "--worker-class", web_class(args),
                    "--threads", str(args.web_threads),
                    "--no-control-socket",
                ],
                env={**child_env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
                log_path=OUT / "logs" / "gunicorn.log",
            )
        )  # fmt: skip
        worker = stack.enter_context(
            running(
                [
                    "celery", "-A", "portal", "worker",
                    "--concurrency", str(args.workers),
                    "--queues", "urgent,celery",
                    "--hostname", f"bench@{socket.gethostname()}",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "--loglevel", "WARNING",
                ],
                env=child_env,
                log_path=OUT / "logs" / "worker.log",
            )
        )  # fmt: skip
        beat = stack.enter_context(
            running(
                [
                    "celery", "-A", "portal", "beat",
                    "--schedule", str(OUT / "logs" / "celerybeat-schedule"),
                    "--loglevel", "WARNING",
                ],
                env=child_env,
                log_path=OUT / "logs" / "beat.log",
            )
        )  # fmt: skip
        wait_for_http(f"http://{HOST}:{web_port}/healthz", process=web)
        sandbox_pids = [
            pid
            for pid in descendants(os.getpid())
            if pid != os.getpid() and "outreach_sandbox" in _cmdline(pid)
        ]
        result = run(
            args,
            control=control,
            tenants=tenants,
            web_port=web_port,
            sandbox_url=sandbox_url,
            pids={
                "gunicorn": web.pid,
                "celery worker": worker.pid,
                "beat": beat.pid,
                "sandbox": sandbox_pids[0] if sandbox_pids else 0,
            },
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(report(result))
    print(f"\nwritten to {args.output}")
    return 0


def web_class(args: argparse.Namespace) -> str:
    return "gthread" if args.web_threads > 1 else "sync"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def run(
    args: argparse.Namespace,
    *,
    control: SandboxControl,
    tenants: list[Tenant],
    web_port: int,
    sandbox_url: str,
    pids: dict[str, int],
) -> dict[str, Any]:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible load, not a secret
    timeline_start = datetime.now(UTC) - timedelta(minutes=5)
    sandbox_port = int(sandbox_url.rsplit(":", 1)[1])

    def plan(prefix: str, calls: int, rate: float, **extra: Any) -> tuple[list, list]:
        planned = plan_calls(
            calls=calls,
            tenants=len(tenants),
            agent_email=agent_email,
            rng=rng,
            prefix=prefix,
            timeline_start=timeline_start,
            **extra,
        )
        return planned, schedule(planned, rate=rate, spread=args.spread, rng=rng)

    async def send(planned: list, stream: list, batch: int) -> tuple[list[Sent], float]:
        web, sandbox = HttpPool(HOST, web_port), HttpPool(HOST, sandbox_port)
        try:
            return await send_stream(
                stream, planned, tenants=tenants, web=web, sandbox=sandbox, batch=batch
            )
        finally:
            await web.close()
            await sandbox.close()

    print("warm-up: 28 calls at 100 events/s", flush=True)
    warm_calls, warm_stream = plan("warm", 28, 100.0)
    asyncio.run(send(warm_calls, warm_stream, 1))
    if wait_until_settled("warm", len(warm_calls), timeout=60) is None:
        raise RuntimeError("the warm-up calls did not reach Outreach; see var/bench/logs/")
    log_start = log_length(control)

    calls, stream = plan("bench", args.calls, args.rate)
    unique = sum(1 for event in stream if not event.duplicate)
    print(
        f"measured run: {len(calls)} calls, {len(stream)} events ({unique} unique, "
        f"{len(stream) - unique} repeats) at {args.rate:g} events/s over "
        f"{len(stream) / args.rate:.1f} s",
        flush=True,
    )
    groups = {
        "gunicorn": descendants(pids["gunicorn"]),
        "celery worker": descendants(pids["celery worker"]),
        "beat": descendants(pids["beat"]),
        "sandbox": descendants(pids["sandbox"]) if pids["sandbox"] else [],
        "postgres": processes_named("postgres"),
        "redis": processes_named("redis-server"),
        "load generator (this)": [os.getpid()],
    }
    profilers = start_profilers(pids) if args.profile else []
    try:
        cpu_before = {name: cpu_seconds(members) for name, members in groups.items()}
        busy_before = machine_busy_seconds()
        sessions_before = database_sessions(args.database)
        began = time.monotonic()
        requests, start_wall = asyncio.run(send(calls, stream, args.batch))
        sent_seconds = time.monotonic() - began
        print("all sent; waiting for Outreach to have everything", flush=True)
        drain = wait_until_settled("bench", len(calls), timeout=args.settle_timeout)
        if drain is None:
            print(f"  still not settled after {args.settle_timeout:g} s: reporting as is")
        window = time.monotonic() - began
        cpu = {name: cpu_seconds(members) - cpu_before[name] for name, members in groups.items()}
        # Anything else on the machine competes for the same cores: the kernel's own work for
        # loopback networking (softirq), another test run...
        cpu["everything else"] = machine_busy_seconds() - busy_before - sum(cpu.values())
        sessions = database_sessions(args.database) - sessions_before
    finally:
        profiles = stop_profilers(profilers)

    print("checking every call in Outreach", flush=True)
    correctness, launches = check_calls(calls, control)
    log = [
        entry for entry in control.requests(since=log_start) if entry["path"].startswith("/api/v2")
    ]
    refusals = Counter(
        f"{entry['status']} {entry['refusedBy'] or ''}".strip()
        for entry in log
        if entry["status"] >= 400
    )
    creates = sum(1 for e in log if e["method"] == "POST" and e["path"] == "/api/v2/calls")
    inbound = sum(1 for call in calls if call.direction == "inbound")

    first_copies = [
        (event.call.outreach_call_id, event.payload, request.scheduled_wall)
        for request in requests
        for event in request.events
        if not event.duplicate
    ]
    latencies = event_latencies(first_copies, deliveries(log))
    ok = [r for r in requests if r.status == 200]
    finished = max(r.answered_wall for r in requests)
    delays = [
        launch["initiatedDelaySeconds"]
        for launch in launches
        if launch["initiatedDelaySeconds"] is not None
    ]

    print(f"bare view and webhook capacity, closed loop, {args.bare_seconds:g} s each", flush=True)
    concurrency = max(8, 2 * args.web_workers * args.web_threads)
    bare_body = json.dumps({"events": [stream[0].payload]}).encode()
    bare = asyncio.run(
        _closed(
            web_port,
            _repeat(("/bench/ok", bare_body, {"Content-Type": "application/json"})),
            args.bare_seconds,
            concurrency,
        )
    )
    capacity = None
    if args.capacity_seconds > 0:
        inbound_rows = [row for row in TABLE if row[0] == "inbound"]
        _, cap_stream = plan(
            "capacity",
            max(200, int(args.rate * args.capacity_seconds)),
            args.rate,
            rows=inbound_rows,
        )
        cap_requests = (
            (
                tenants[event.call.tenant].webhook_path,
                *webhook_request(tenants[event.call.tenant], [event]),
            )
            for event in cap_stream
        )
        capacity = asyncio.run(_closed(web_port, cap_requests, args.capacity_seconds, concurrency))

    rss = {name: _rss(pid) for name, pid in pids.items() if pid}
    ingest = _ms(summary([r.latency for r in ok]))
    outreach = _ms(summary(latencies.seconds))
    within = sum(1 for launch in launches if launch["initiatedWithin5s"])
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": args.load_before,
        "command": "python -m bench.pipeline " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "git": git_state(),
        "setup": {
            "calls": len(calls),
            "inbound": inbound,
            "outbound": len(calls) - inbound,
            "events_sent": len(stream),
            "events_unique": unique,
            "repeats": len(stream) - unique,
            "rate_events_per_second": args.rate,
            "events_per_request": args.batch,
            "requests": len(requests),
            "tenants": len(tenants),
            "gunicorn": f"{args.web_workers} x {web_class(args)}"
            + (f" ({args.web_threads} threads)" if args.web_threads > 1 else ""),
            "celery_worker_processes": args.workers,
        },
        "ingest": {
            "requests_per_second": round(len(requests) / (finished - start_wall), 1),
            "sending_seconds": round(sent_seconds, 2),
            "latency_ms": ingest,
            "non_200": dict(Counter(r.status for r in requests if r.status != 200)),
            "waited_for_a_late_launch": sum(1 for r in requests if r.waited_for_launch),
        },
        "outreach": {
            "event_to_outreach_ms": outreach,
            "by_happening_ms": {
                name: _ms(summary(values))
                for name, values in sorted(latencies.by_happening.items())
            },
            "events_already_in_outreach_when_sent": latencies.already_there,
            "events_without_effect": latencies.no_effect,
            "events_never_delivered": len(latencies.undelivered),
            "undelivered_examples": latencies.undelivered[:10],
            "initiated_within_5s": round(within / len(launches), 4) if launches else None,
            "initiated_delay_ms": _ms(summary(delays)),
            "outbound_launched": len(launches),
            "drain_seconds_after_last_send": round(drain, 2) if drain is not None else None,
            "api_requests": len(log),
            "sandbox_answer_ms": {
                "p50": percentile([e["durationMs"] for e in log], 0.5),
                "p99": percentile([e["durationMs"] for e in log], 0.99),
            },
        },
        "correctness": {
            **correctness,
            "sandbox_refusals": dict(refusals),
            "creates": creates,
            "duplicate_creates": creates - inbound,
        },
        "bare_view": bare,
        "webhook_capacity": capacity,
        "ratios": {
            "ingest_rate_over_bare": round(
                len(requests) / (finished - start_wall) / bare["per_second"], 3
            ),
            "webhook_capacity_over_bare": round(capacity["per_second"] / bare["per_second"], 3)
            if capacity
            else None,
        },
        "cpu_seconds_during_run": {
            "window_seconds": round(window, 2),
            **{name: round(seconds, 2) for name, seconds in cpu.items()},
        },
        "peak_rss_mb": rss,
        "postgres_connections_opened_during_run": sessions,
        "profiles": profiles,
    }
    result["targets"] = {
        "ingest_p99_under_50ms": (ingest["p99"] or math.inf) < TARGETS["ingest_p99_ms"],
        "event_to_outreach_p99_under_500ms": (outreach["p99"] or math.inf)
        < TARGETS["outreach_p99_ms"],
        "initiated_all_within_5s": result["outreach"]["initiated_within_5s"]
        == TARGETS["initiated_within_5s"],
    }
    return result


def _repeat(item: Any) -> Iterator[Any]:
    while True:
        yield item


async def _closed(
    port: int,
    requests: Iterator[tuple[str, bytes, dict[str, str]]],
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    pool = HttpPool(HOST, port)
    try:
        return await closed_loop(pool, requests, seconds=seconds, concurrency=concurrency)
    finally:
        await pool.close()


def log_length(control: SandboxControl) -> int:
    """The sandbox's request log has no length; a request it logs tells its own index."""
    control.config()
    return control.requests(path_prefix="/_control/config")[-1]["index"] + 1


def start_profilers(pids: dict[str, int]) -> list:
    from bench import profile

    return [
        profile.start(name, pids[key], OUT)
        for name, key in (("web", "gunicorn"), ("worker", "celery worker"))
    ]


def stop_profilers(profilers: list) -> dict[str, Any]:
    from bench import profile

    return {profiler[0]: profile.stop(profiler) for profiler in profilers}


def _rss(pid: int) -> dict[str, Any]:
    members = [peak_rss_mb(member) for member in descendants(pid)]
    known = [mb for mb in members if mb is not None]
    return {
        "processes": len(known),
        "largest_mb": round(max(known), 1) if known else None,
        "total_mb": round(sum(known), 1),
    }


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    postgres = subprocess.run(  # noqa: S603
        ["psql", "-h", HOST, "-U", "postgres", "-Atc", "show server_version"],  # noqa: S607
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
    }


def git_state() -> dict[str, Any]:
    def git(*arguments: str) -> str:
        command = ["git", *arguments]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True).stdout.strip()  # noqa: S603

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def report(result: dict[str, Any]) -> str:
    setup, ingest, outreach = result["setup"], result["ingest"], result["outreach"]
    correct, targets = result["correctness"], result["targets"]

    def mark(met: bool) -> str:
        return "met" if met else "MISSED"

    lines = [
        "",
        f"Callbridge pipeline benchmark, {result['date']}, {result['machine']['cores']} cores "
        f"({result['machine']['cpu']})",
        f"  {setup['calls']} calls ({setup['inbound']} inbound, {setup['outbound']} outbound), "
        f"{setup['events_sent']} events ({setup['repeats']} repeats) at "
        f"{setup['rate_events_per_second']:g}/s, {setup['events_per_request']} per request; "
        f"gunicorn {setup['gunicorn']}, {setup['celery_worker_processes']} Celery processes",
        "",
        f"  {'ingest requests/s':38} {ingest['requests_per_second']}",
        f"  {'ingest latency p50 / p99 / max (ms)':38} {ingest['latency_ms']['p50']} / "
        f"{ingest['latency_ms']['p99']} / {ingest['latency_ms']['max']}"
        f"   target p99 < 50: {mark(targets['ingest_p99_under_50ms'])}",
        f"  {'ingest answers other than 200':38} {ingest['non_200'] or 'none'}",
        f"  {'event-to-Outreach p50 / p99 / max (ms)':38} "
        f"{outreach['event_to_outreach_ms']['p50']} / {outreach['event_to_outreach_ms']['p99']} / "
        f"{outreach['event_to_outreach_ms']['max']}"
        f"   target p99 < 500: {mark(targets['event_to_outreach_p99_under_500ms'])}",
        f"  {'  events measured / already there / lost':38} "
        f"{outreach['event_to_outreach_ms']['count']} / "
        f"{outreach['events_already_in_outreach_when_sent']} / "
        f"{outreach['events_never_delivered']}",
        f"  {'outbound initiated within 5 s':38} "
        f"{100 * (outreach['initiated_within_5s'] or 0):.1f}% of {outreach['outbound_launched']}"
        f" (delay p50 {outreach['initiated_delay_ms']['p50']} ms, p99 "
        f"{outreach['initiated_delay_ms']['p99']} ms)"
        f"   target 100%: {mark(targets['initiated_all_within_5s'])}",
        f"  {'drain after the last send (s)':38} {outreach['drain_seconds_after_last_send']}",
        f"  {'calls ending as the table says':38} {correct['as_the_table_says']} of "
        f"{correct['calls']}",
        f"  {'sandbox refusals / duplicate creates':38} {correct['sandbox_refusals'] or 'none'} / "
        f"{correct['duplicate_creates']}",
        f"  {'bare view /bench/ok requests/s':38} {result['bare_view']['per_second']}"
        f" (closed loop, {result['bare_view']['concurrency']} connections)",
        f"  {'ingest rate / bare view':38} {result['ratios']['ingest_rate_over_bare']}",
    ]
    if result["webhook_capacity"]:
        lines += [
            f"  {'webhook capacity requests/s':38} {result['webhook_capacity']['per_second']}"
            f" (closed loop, p99 {result['webhook_capacity']['latency_ms']['p99']} ms)",
            f"  {'webhook capacity / bare view':38} "
            f"{result['ratios']['webhook_capacity_over_bare']}",
        ]
    cpu = dict(result["cpu_seconds_during_run"])
    window = cpu.pop("window_seconds")
    lines += [
        "",
        f"  CPU seconds during the run ({window} s of wall clock, {2 * window:.0f} core-s):",
    ]
    lines += [f"    {name:28} {seconds:7.1f}" for name, seconds in cpu.items()]
    lines += [
        f"  PostgreSQL connections opened during the run: "
        f"{result['postgres_connections_opened_during_run']}",
        "  peak RSS (MB, largest process / all):",
    ]
    lines += [
        f"    {name:28} {rss['largest_mb']} / {rss['total_mb']} ({rss['processes']} processes)"
        for name, rss in result["peak_rss_mb"].items()
    ]
    for name, profile in (result["profiles"] or {}).items():
        lines += ["", f"  profile of {name} ({profile.get('samples', 0)} samples), inclusive:"]
        lines += [f"    {line}" for line in profile.get("inclusive", [])[:15]]
        lines += ["  self:"] + [f"    {line}" for line in profile.get("self", [])[:10]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
