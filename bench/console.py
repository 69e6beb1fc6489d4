"""The support console's benchmark: how fast the calls list answers with a million calls.

    .venv/bin/python -m bench.console                     # 1,000,000 calls, 40 requests a view
    .venv/bin/python -m bench.console --calls 50000 --requests 20
    .venv/bin/python -m bench.console --reuse             # keep the data of the previous run

A fresh PostgreSQL database (`callbridge_console_bench` on 127.0.0.1) is migrated and filled
by `manage.py generate_calls` (one organisation, three connections, fifty agents, the calls
spread over 90 days); then every view of the list is requested as an admin through Django's
test client, in this process: the figures are the view's whole time (the queries, the template)
without the network. Each view is asked twice to warm up, then `--requests` times, with a
different value each time where the view takes one (a phone number, a cursor); p50, p95 and the
slowest are printed and written to var/bench/console.json. The target is p95 under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet

from bench.processes import HOST, REPO
from bench.setup import database_recreate

TARGET_P95_MS = 300.0
OUTPUT = REPO / "var" / "bench" / "console.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="Timed requests per view.")
    parser.add_argument("--database", default="callbridge_console_bench")
    parser.add_argument("--reuse", action="store_true", help="Keep the database as it is.")
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "off",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "off",
            "DATABASE_URL": f"postgres://postgres@{HOST}:5432/{args.database}",
            "CACHE_URL": "locmemcache://",
        }
    )
    if not args.reuse:
        print(f"database {args.database}: creating and migrating", flush=True)
        database_recreate(args.database)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # DEBUG off serves hashed static files, as in production: the pages need their manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    if not args.reuse:
        started = time.monotonic()
        call_command("generate_calls", calls=args.calls, seed=args.seed)
        print(f"generated in {time.monotonic() - started:.0f} s", flush=True)
    results = measure(args)
    report(args, results)


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from django.test import Client

    from calls.models import Call
    from calls.selectors import COUNT_LIMIT, calls_count, calls_visible
    from portal.tenancy.models import Membership, Organization

    organization = Organization.objects.get(slug="bench-console")
    admin = _admin(organization)
    client = Client()
    client.force_login(admin)
    base = f"/o/{organization.slug}/calls/"
    calls = Call.objects.for_organization(organization)
    total = calls.count()
    sample = list(
        calls.order_by("?").values_list("from_number", "provider_call_id", "outreach_call_id")[
            : args.requests + 2
        ]
    )
    connection_id = calls.values_list("connection_id", flat=True).first()
    agent = calls.exclude(outreach_user_id="").values_list("outreach_user_id", flat=True).first()
    newest = calls.order_by("-created").values_list("created", flat=True).first()
    assert newest is not None
    week = (newest - timedelta(days=30)).date()
    cursors = _cursors(client, base, pages=args.requests + 2)
    membership = Membership.objects.get(organization=organization, user=admin)

    def get(path: str) -> Callable[[int], None]:
        def request(_: int) -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return request

    def varying(make: Callable[[int], str]) -> Callable[[int], None]:
        def request(index: int) -> None:
            response = client.get(make(index))
            assert response.status_code == 200, response.status_code

        return request

    def count(_: int) -> None:
        calls_count(
            calls_visible(organization=organization, membership=membership), limit=COUNT_LIMIT
        )

    views: list[tuple[str, Callable[[int], None]]] = [
        ("first page (with its count)", get(base)),
        ("the count alone", count),
        ("a later page (keyset cursor)", varying(lambda i: f"{base}?after={cursors[i]}")),
        ("filter: direction", get(f"{base}?direction=inbound")),
        ("filter: status failed", get(f"{base}?status=failed")),
        ("filter: status held", get(f"{base}?status=held")),
        ("filter: provider connection", get(f"{base}?provider={connection_id}")),
        ("filter: agent", get(f"{base}?agent={agent}")),
        ("filter: needs attention", get(f"{base}?attention=on")),
        ("filter: time range (a day)", get(f"{base}?since={week}&until={week}")),
        ("filters combined", get(f"{base}?direction=outbound&status=failed&agent={agent}")),
        ("search: phone number", varying(lambda i: f"{base}?q={sample[i][0].replace('+', '%2B')}")),
        ("search: provider call id", varying(lambda i: f"{base}?q={sample[i][1]}")),
        ("search: Outreach call id", varying(lambda i: f"{base}?q={sample[i][2] or 'none'}")),
        ("search: not a number", get(f"{base}?q=not-a-number")),
        ("needs attention page", get(f"/o/{organization.slug}/attention/")),
        ("dashboard", get(f"/o/{organization.slug}/")),
    ]
    results = []
    for name, request in views:
        for warm in range(2):
            request(warm)
        timings, cpu = [], []
        for index in range(args.requests):
            started, started_cpu = time.perf_counter(), time.process_time()
            request(index)
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        results.append(
            {
                "view": name,
                "requests": len(timings),
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(_percentile(timings, 0.95), 1),
                "max_ms": round(max(timings), 1),
                # This process's CPU alone (the view's Python, not PostgreSQL's work): what a
                # busy machine's wall time is made of, apart from waiting for a core.
                "cpu_p95_ms": round(_percentile(cpu, 0.95), 1),
            }
        )
        print(f"{name:34} p95 {results[-1]['p95_ms']:7.1f} ms", flush=True)
    print(f"{total} calls in the organisation", flush=True)
    return results


def _admin(organization: Any) -> Any:
    from django.contrib.auth import get_user_model

    from portal.tenancy.models import Membership, Role

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"email": "bench-admin@example.com"}
    )
    Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": Role.ADMIN}
    )
    return user


def _cursors(client: Any, base: str, *, pages: int) -> list[str]:
    """The cursors of the first pages, as a person paging back would follow them."""
    import re

    cursors, path = [], base
    for _ in range(pages):
        page = client.get(path).content.decode()
        found = re.search(r'after=([^"&]+)"', page)
        if found is None:
            break
        cursors.append(found.group(1))
        path = f"{base}?after={found.group(1)}"
    return cursors or [""]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    worst = max(result["p95_ms"] for result in results)
    payload = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        "calls": args.calls,
        "requests_per_view": args.requests,
        "target_p95_ms": TARGET_P95_MS,
        "worst_p95_ms": worst,
        "views": results,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(payload, indent=2) + "\n")
    print()
    print(f"{'view':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU p95':>8}")
    for result in results:
        print(
            f"{result['view']:34} {result['p50_ms']:8.1f} {result['p95_ms']:8.1f} "
            f"{result['max_ms']:8.1f} {result['cpu_p95_ms']:8.1f}"
        )
    verdict = "met" if worst < TARGET_P95_MS else "MISSED"
    print(f"\nworst p95 {worst:.1f} ms: target {TARGET_P95_MS:.0f} ms {verdict}; {OUTPUT}")


if __name__ == "__main__":
    main()
