"""The benchmark's report: every figure with the machine and the commit it was measured on, as
var/bench/latest.json (`--output`) and as a table on the terminal.

The machine, the load average before the run and the commit (dirty or not) go with the figures
because figures without them cannot be compared with the README's or a later run's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import measure
from bench.load import PlannedCall, PlannedEvent
from bench.processes import HOST, REPO
from bench.setup import web_class

TARGETS = {
    "ingest_p99_ms": 50.0,
    "outreach_p99_ms": 500.0,
    "initiated_within_5s": 1.0,
    "dial_to_initiated_p99_ms": 1000.0,
}
# The product's own processes and the services they use: what "CPU per event" counts (not the
# sandbox, which stands for Outreach, nor the load generator, which stands for the providers).
PRODUCT_PROCESSES = ("gunicorn", "celery worker", "beat", "postgres", "redis")


def result(
    args: argparse.Namespace,
    *,
    calls: list[PlannedCall],
    stream: list[PlannedEvent],
    tenants: int,
    run: measure.MeasuredRun,
    outreach: measure.OutreachView,
    bare: dict[str, Any],
    capacity: dict[str, Any] | None,
    rss: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Everything latest.json holds."""
    figures = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": args.load_before,
        "command": "python -m bench.pipeline " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "git": git_state(),
        "setup": setup_section(args, calls, stream, run, tenants),
        "ingest": measure.ingest_figures(run),
        "outreach": measure.outreach_figures(run, outreach),
        "dial": measure.dial_figures(run, outreach),
        "correctness": measure.correctness_figures(calls, outreach),
        "bare_view": bare,
        "webhook_capacity": capacity,
        "ratios": {
            "ingest_rate_over_bare": round(measure.ingest_rate(run) / bare["per_second"], 3),
            "webhook_capacity_over_bare": round(capacity["per_second"] / bare["per_second"], 3)
            if capacity
            else None,
        },
        "cpu_seconds_during_run": {
            "window_seconds": round(run.window_seconds, 2),
            **{name: round(seconds, 2) for name, seconds in run.cpu.items()},
        },
        "cpu_ms_per_unique_event": cpu_per_event(run, stream),
        "peak_rss_mb": rss,
        "postgres_connections_opened_during_run": run.sessions,
        "profiles": run.profiles,
    }
    figures["targets"] = targets(figures)
    return figures


def cpu_per_event(run: measure.MeasuredRun, stream: list[PlannedEvent]) -> dict[str, float]:
    """CPU milliseconds per unique event of the measured run, by process and for the product as
    a whole (the run's dials included: one per second is about 1% of the events at 80/s)."""
    unique = sum(1 for event in stream if not event.duplicate)
    per_event = {name: 1000 * run.cpu[name] / unique for name in PRODUCT_PROCESSES}
    per_event["product"] = sum(per_event.values())
    return {name: round(ms, 2) for name, ms in per_event.items()}


def setup_section(
    args: argparse.Namespace,
    calls: list[PlannedCall],
    stream: list[PlannedEvent],
    run: measure.MeasuredRun,
    tenants: int,
) -> dict[str, Any]:
    inbound = sum(1 for call in calls if call.direction == "inbound")
    unique = sum(1 for event in stream if not event.duplicate)
    threads = f" ({args.web_threads} threads)" if args.web_threads > 1 else ""
    return {
        "calls": len(calls),
        "inbound": inbound,
        "outbound": len(calls) - inbound,
        "events_sent": len(stream),
        "events_unique": unique,
        "repeats": len(stream) - unique,
        "rate_events_per_second": args.rate,
        "events_per_request": args.batch,
        "requests": len(run.requests),
        "tenants": tenants,
        "gunicorn": f"{args.web_workers} x {web_class(args)}{threads}",
        "celery_worker_processes": args.workers,
    }


def targets(figures: dict[str, Any]) -> dict[str, bool]:
    ingest_p99 = figures["ingest"]["latency_ms"]["p99"]
    outreach_p99 = figures["outreach"]["event_to_outreach_ms"]["p99"]
    return {
        "ingest_p99_under_50ms": (ingest_p99 or math.inf) < TARGETS["ingest_p99_ms"],
        "event_to_outreach_p99_under_500ms": (outreach_p99 or math.inf)
        < TARGETS["outreach_p99_ms"],
        "initiated_all_within_5s": figures["outreach"]["initiated_within_5s"]
        == TARGETS["initiated_within_5s"],
        "dial_to_initiated_p99_under_1s": (figures["dial"]["dial_to_initiated_ms"]["p99"] or 0)
        < TARGETS["dial_to_initiated_p99_ms"],
        "dials_all_initiated_within_5s": figures["dial"]["initiated_within_5s"]
        in (None, TARGETS["initiated_within_5s"]),
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


def write(figures: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(table(figures))
    print(f"\nwritten to {path}")


# The table ------------------------------------------------------------------------------------


def table(figures: dict[str, Any]) -> str:
    lines = _heading(figures) + _pipeline(figures) + _capacity(figures) + _resources(figures)
    for name, profile in (figures["profiles"] or {}).items():
        lines += ["", f"  profile of {name} ({profile.get('samples', 0)} samples), inclusive:"]
        lines += [f"    {line}" for line in profile.get("inclusive", [])[:15]]
        lines += ["  self:"] + [f"    {line}" for line in profile.get("self", [])[:10]]
    return "\n".join(lines)


def _mark(met: bool) -> str:
    return "met" if met else "MISSED"


def _heading(figures: dict[str, Any]) -> list[str]:
    setup, machine = figures["setup"], figures["machine"]
    return [
        "",
        f"Callbridge pipeline benchmark, {figures['date']}, {machine['cores']} cores "
        f"({machine['cpu']})",
        f"  {setup['calls']} calls ({setup['inbound']} inbound, {setup['outbound']} outbound), "
        f"{setup['events_sent']} events ({setup['repeats']} repeats) at "
        f"{setup['rate_events_per_second']:g}/s, {setup['events_per_request']} per request; "
        f"gunicorn {setup['gunicorn']}, {setup['celery_worker_processes']} Celery processes",
        "",
    ]


def _pipeline(figures: dict[str, Any]) -> list[str]:
    """The measured run, against the targets: ingest, then Outreach, then correctness."""
    ingest, outreach = figures["ingest"], figures["outreach"]
    correct, targets = figures["correctness"], figures["targets"]
    latency, to_outreach = ingest["latency_ms"], outreach["event_to_outreach_ms"]
    delay = outreach["initiated_delay_ms"]
    return [
        f"  {'ingest requests/s':38} {ingest['requests_per_second']}",
        f"  {'ingest latency p50 / p99 / max (ms)':38} {latency['p50']} / "
        f"{latency['p99']} / {latency['max']}"
        f"   target p99 < 50: {_mark(targets['ingest_p99_under_50ms'])}",
        f"  {'ingest answers other than 200':38} {ingest['non_200'] or 'none'}",
        f"  {'event-to-Outreach p50 / p99 / max (ms)':38} "
        f"{to_outreach['p50']} / {to_outreach['p99']} / {to_outreach['max']}"
        f"   target p99 < 500: {_mark(targets['event_to_outreach_p99_under_500ms'])}",
        f"  {'  events measured / already there / lost':38} "
        f"{to_outreach['count']} / "
        f"{outreach['events_already_in_outreach_when_sent']} / "
        f"{outreach['events_never_delivered']}",
        f"  {'outbound initiated within 5 s':38} "
        f"{100 * (outreach['initiated_within_5s'] or 0):.1f}% of {outreach['outbound_launched']}"
        f" (delay p50 {delay['p50']} ms, p99 {delay['p99']} ms)"
        f"   target 100%: {_mark(targets['initiated_all_within_5s'])}",
        *_dials(figures),
        f"  {'drain after the last send (s)':38} {outreach['drain_seconds_after_last_send']}",
        f"  {'calls ending as the table says':38} {correct['as_the_table_says']} of "
        f"{correct['calls']}",
        f"  {'sandbox refusals / duplicate creates':38} {correct['sandbox_refusals'] or 'none'} / "
        f"{correct['duplicate_creates']}",
    ]


def _dials(figures: dict[str, Any]) -> list[str]:
    dial, targets = figures["dial"], figures["targets"]
    if not dial["dials"]:
        return []
    latency = dial["dial_to_initiated_ms"]
    return [
        f"  {'dial-to-initiated p50 / p99 / max (ms)':38} {latency['p50']} / {latency['p99']} / "
        f"{latency['max']}   target p99 < 1000: "
        f"{_mark(targets['dial_to_initiated_p99_under_1s'])}",
        f"  {'  dials / within 5 s / dial answers':38} {dial['dials']} / "
        f"{100 * (dial['initiated_within_5s'] or 0):.1f}% / {dial['answers']}"
        f"   target 100%: {_mark(targets['dials_all_initiated_within_5s'])}",
    ]


def _capacity(figures: dict[str, Any]) -> list[str]:
    """The closed loops: the bare view's ceiling, and the webhook's own against it."""
    bare, capacity, ratios = figures["bare_view"], figures["webhook_capacity"], figures["ratios"]
    lines = [
        f"  {'bare view /bench/ok requests/s':38} {bare['per_second']}"
        f" (closed loop, {bare['concurrency']} connections)",
        f"  {'ingest rate / bare view':38} {ratios['ingest_rate_over_bare']}",
    ]
    if capacity:
        lines += [
            f"  {'webhook capacity requests/s':38} {capacity['per_second']}"
            f" (closed loop, p99 {capacity['latency_ms']['p99']} ms)",
            f"  {'webhook capacity / bare view':38} {ratios['webhook_capacity_over_bare']}",
        ]
    return lines


def _resources(figures: dict[str, Any]) -> list[str]:
    cpu = dict(figures["cpu_seconds_during_run"])
    window = cpu.pop("window_seconds")
    lines = [
        "",
        f"  CPU seconds during the run ({window} s of wall clock, {2 * window:.0f} core-s):",
    ]
    lines += [f"    {name:28} {seconds:7.1f}" for name, seconds in cpu.items()]
    per_event = figures["cpu_ms_per_unique_event"]
    lines += [
        "  CPU ms per unique event:  " + ", ".join(f"{n} {ms}" for n, ms in per_event.items())
    ]
    lines += [
        f"  PostgreSQL connections opened during the run: "
        f"{figures['postgres_connections_opened_during_run']}",
        "  peak RSS (MB, largest process / all):",
    ]
    lines += [
        f"    {name:28} {rss['largest_mb']} / {rss['total_mb']} ({rss['processes']} processes)"
        for name, rss in figures["peak_rss_mb"].items()
    ]
    return lines
