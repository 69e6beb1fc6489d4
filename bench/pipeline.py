"""The pipeline benchmark: real processes, a fixed event rate, the sandbox's clock as the judge.

    .venv/bin/python -m bench.pipeline [--calls 1000] [--rate 300] [--workers 2] [--web-workers 2]

What it starts, all on 127.0.0.1 and all stopped at the end, even on failure or Ctrl-C:
the Outreach sandbox (rate limit raised, mint window off), a fresh PostgreSQL database
(`callbridge_bench`, dropped and migrated each run), gunicorn (`portal.wsgi` with
`DJANGO_SETTINGS_MODULE=bench.settings`, which only adds the bare view `/bench/ok`), one Celery
worker with `--workers` prefork processes on both queues, and beat, with Redis database
`--redis-db` as the broker (the tests use 1-15). Each tenant's generic connection places calls
(its rep has an agent mapping and an API token).

Settings come from the environment, DEBUG off (why gunicorn runs gthread: bench/setup.py).
Organisations, Outreach connections, generic provider connections and agent mappings are made
through the product's services in this process.

What it does:

1. warm-up: 28 calls (two of each table row) at 100 events/s, until Outreach has them all;
2. the measured run: `--calls` calls from bench/load.py sent open-loop at exactly `--rate`
   events/s, one event per request. Each request's latency counts from its *scheduled* time,
   so a slow server cannot slow the sender down and hide its own queueing (coordinated
   omission). An outbound call is launched in the sandbox (as the Outreach client does before
   dialling) 50 ms before its first event is scheduled; that first event waits for the launch
   if it is late, and its latency then counts from the launch's answer. Beside that load,
   `--dial-rate` click-to-dials per second: each launched in the sandbox as Outreach does when
   a rep clicks Call, then posted to `POST /api/v1/dial` with the rep's API token as the Chrome
   extension does; the generic connection places it with a fake phone system in this process
   (outreach_sandbox/phone/, which reports nothing back), and dial-to-`initiated` counts from
   the dial request leaving to the sandbox receiving `initiated`;
3. waits until no call has work left, then reads the sandbox's request log, its view of every
   call (final state, links, launch report) and our own call rows: correctness, refusals,
   duplicate creates, event-to-Outreach latency (matching rule: bench/measure.py);
4. the same gunicorn's throughput on the bare view, closed-loop for `--bare-seconds`, and the
   webhook's own closed-loop throughput (fresh inbound calls) for `--capacity-seconds`;
5. prints a table and writes it all to var/bench/latest.json; process logs in var/bench/logs/.

`--profile` runs py-spy (pip install py-spy) on gunicorn and the worker during the measured
run and summarises where their CPU went (bench/profile.py).

The parts, in the order a run uses them: bench/setup.py (settings, database, tenants, the
processes; bench/processes.py starts and stops them, for the tests too), bench/load.py (the
calls, their schedule, sending them), bench/measure.py (waiting, collecting, the figures),
bench/report.py (latest.json and the table). This module is the run itself, step by step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import measure, profile, report
from bench.load import (
    INBOUND_ROWS,
    PlannedCall,
    PlannedEvent,
    Planner,
    plan_dials,
    repeat,
    send_closed_loop,
    send_open_loop,
    signed_requests,
)
from bench.setup import LOGS, OUT, Testbed, testbed


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
        "--dial-rate",
        type=float,
        default=1.0,
        help="click-to-dials per second during the measured run (0: none)",
    )
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
    LOGS.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop what was started
    with testbed(args) as bed:
        figures = run(args, bed)
    report.write(figures, args.output)
    return 0


def run(args: argparse.Namespace, bed: Testbed) -> dict[str, Any]:
    """Steps 1-4 of the module's description; answers everything the report shows."""
    # One random sequence for every load of the run, so a seed reproduces all of it.
    planner = Planner(
        tenants=len(bed.tenants),
        spread=args.spread,
        rng=random.Random(args.seed),  # noqa: S311 - a reproducible load, not a secret
    )
    warm_up(bed, planner)
    log_start = measure.log_length(bed.control)
    calls, stream = planner.plan("bench", args.calls, args.rate)
    announce(args, calls, stream)
    measured = measured_run(args, bed, calls, stream)
    print("checking every call in Outreach", flush=True)
    outreach = measure.outreach_view(calls, bed.control, since=log_start)
    print(f"bare view and webhook capacity, closed loop, {args.bare_seconds:g} s each", flush=True)
    bare, capacity = closed_loops(args, bed, planner, stream)
    return report.result(
        args,
        calls=calls,
        stream=stream,
        tenants=len(bed.tenants),
        run=measured,
        outreach=outreach,
        bare=bare,
        capacity=capacity,
        rss=measure.peak_rss(bed.pids),
    )


def warm_up(bed: Testbed, planner: Planner) -> None:
    """Every code path once, connections open, caches filled, before anything counts."""
    print("warm-up: 28 calls at 100 events/s", flush=True)
    calls, stream = planner.plan("warm", 28, 100.0)
    send_open_loop(
        calls,
        stream,
        tenants=bed.tenants,
        web_port=bed.web_port,
        sandbox_port=bed.sandbox_port,
        batch=1,
    )
    if measure.wait_until_settled("warm", len(calls), timeout=60) is None:
        raise RuntimeError("the warm-up calls did not reach Outreach; see var/bench/logs/")


def announce(
    args: argparse.Namespace, calls: list[PlannedCall], stream: list[PlannedEvent]
) -> None:
    unique = sum(1 for event in stream if not event.duplicate)
    print(
        f"measured run: {len(calls)} calls, {len(stream)} events ({unique} unique, "
        f"{len(stream) - unique} repeats) at {args.rate:g} events/s over "
        f"{len(stream) / args.rate:.1f} s",
        flush=True,
    )


def measured_run(
    args: argparse.Namespace, bed: Testbed, calls: list[PlannedCall], stream: list[PlannedEvent]
) -> measure.MeasuredRun:
    """Sends the stream and waits until Outreach has everything; meanwhile counts the CPU of
    every process and, with --profile, samples where gunicorn's and the worker's went."""
    groups = measure.process_groups(bed.pids)
    dials = plan_dials(rate=args.dial_rate, seconds=stream[-1].send_at, tenants=len(bed.tenants))
    profilers = profile.start_all(bed.pids, OUT) if args.profile else []
    try:
        usage = measure.Usage.start(groups, args.database)
        began = time.monotonic()
        requests, start_wall = send_open_loop(
            calls,
            stream,
            tenants=bed.tenants,
            web_port=bed.web_port,
            sandbox_port=bed.sandbox_port,
            batch=args.batch,
            dials=dials,
        )
        sent_seconds = time.monotonic() - began
        print("all sent; waiting for Outreach to have everything", flush=True)
        drain = measure.wait_until_settled("bench", len(calls), timeout=args.settle_timeout)
        if drain is None:
            print(f"  still not settled after {args.settle_timeout:g} s: reporting as is")
        window = time.monotonic() - began
        cpu, sessions = usage.stop()
    finally:
        profiles = profile.stop_all(profilers)
    return measure.MeasuredRun(
        requests, start_wall, sent_seconds, drain, window, cpu, sessions, profiles, dials
    )


def closed_loops(
    args: argparse.Namespace, bed: Testbed, planner: Planner, stream: list[PlannedEvent]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The same gunicorn's ceiling on the bare view, then the webhook's own throughput, both
    closed loop: the ratio says what the webhook's work costs over a request that does none."""
    concurrency = max(8, 2 * args.web_workers * args.web_threads)
    # The bare view gets a webhook's body, so both read and parse as much.
    body = json.dumps({"events": [stream[0].payload]}).encode()
    bare = send_closed_loop(
        bed.web_port,
        repeat(("/bench/ok", body, {"Content-Type": "application/json"})),
        seconds=args.bare_seconds,
        concurrency=concurrency,
    )
    if args.capacity_seconds <= 0:
        return measure.closed_loop_figures(bare), None
    # Fresh inbound calls: an outbound one would need its launch first, which a closed loop
    # of webhook requests does not wait for.
    _, capacity_stream = planner.plan(
        "capacity",
        max(200, int(args.rate * args.capacity_seconds)),
        args.rate,
        rows=INBOUND_ROWS,
    )
    capacity = send_closed_loop(
        bed.web_port,
        signed_requests(bed.tenants, capacity_stream),
        seconds=args.capacity_seconds,
        concurrency=concurrency,
    )
    return measure.closed_loop_figures(bare), measure.closed_loop_figures(capacity)


if __name__ == "__main__":
    sys.exit(main())
