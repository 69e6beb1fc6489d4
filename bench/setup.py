"""The benchmark's testbed: settings, a fresh database, tenants, and the product's processes.

Everything is on 127.0.0.1 and stopped when the `testbed` block ends, even on failure or
Ctrl-C; what is started is listed in bench/pipeline.py's description (`--help`). The database
and the broker's Redis database start empty, so nothing of a previous run counts. Settings come
from the environment, DEBUG off, as in production; process logs go to var/bench/logs/.

gunicorn runs 2 gthread processes of 4 threads by default, the fastest we measured on two cores:
a thread waiting on PostgreSQL or Redis leaves the core to another, connections are kept alive,
and it takes half the memory of 4 sync processes. 4 sync workers were slower in every run here:
since gunicorn 27 a sync worker closes every connection gracefully, waiting for the client's own
close before it takes the next request, so its throughput depends on the client's promptness.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

from bench.load import Tenant, agent_email
from bench.measure import descendants
from bench.processes import HOST, REPO, free_port, running, venv_environment, wait_for_http
from outreach_sandbox.control import SandboxControl
from outreach_sandbox.launcher import sandbox_process
from outreach_sandbox.phone import PhoneSystem, running_phone

OUT = REPO / "var" / "bench"  # the report, the profiles and, under logs/, the process logs
LOGS = OUT / "logs"


@dataclass
class Testbed:
    """What a run sends to and measures."""

    control: SandboxControl
    sandbox_port: int
    web_port: int
    tenants: list[Tenant]
    pids: dict[str, int]  # the group leaders whose CPU and memory the report shows
    phone: PhoneSystem  # where the tenants' dials are placed


@contextmanager
def testbed(args: argparse.Namespace) -> Iterator[Testbed]:
    """Starts it all in order (the sandbox first: the settings name its URL; gunicorn, the
    worker and beat last, on a migrated database with the tenants in it)."""
    with ExitStack() as stack:
        sandbox_url = stack.enter_context(
            sandbox_process(mint_window=0, rate_limit_per_hour=1_000_000_000)
        )
        web_port = free_port()
        # This process sets up the database through the product's own code, so it reads the
        # same settings as the services; they inherit them from here.
        os.environ.update(environment(args, sandbox_url=sandbox_url, web_port=web_port))
        database_prepare(args)
        control = stack.enter_context(SandboxControl(sandbox_url, timeout=60))
        # The phone system that places the reps' dials: it answers each dial with its call id
        # and reports nothing itself, so the webhook load stays the measured run's alone.
        phone, phone_url = stack.enter_context(running_phone(PhoneSystem(auto_events=())))
        tenants = tenants_create(control, args.tenants, dial_url=f"{phone_url}/dial")
        phone.set_up(webhook_url="", secrets=[tenant.signing_secret for tenant in tenants])
        print("starting gunicorn, the Celery worker and beat", flush=True)
        pids = services_start(stack, args, web_port)
        yield Testbed(
            control=control,
            sandbox_port=int(sandbox_url.rsplit(":", 1)[1]),
            web_port=web_port,
            tenants=tenants,
            pids={**pids, "sandbox": sandbox_pid()},
            phone=phone,
        )


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


def database_prepare(args: argparse.Namespace) -> None:
    """A fresh, migrated database and an empty broker: nothing of a previous run counts."""
    print(f"database {args.database}: creating and migrating", flush=True)
    database_recreate(args.database)
    broker_purge(args.redis_db)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def database_recreate(name: str) -> None:
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')


def broker_purge(redis_db: int) -> None:
    """Tasks a previous run left in our Redis database name calls that no longer exist."""
    import redis

    client = redis.Redis(host=HOST, port=6379, db=redis_db)
    client.delete("celery", "urgent", "unacked", "unacked_index")
    client.close()


def tenants_create(control: SandboxControl, count: int, *, dial_url: str) -> list[Tenant]:
    from django.db import connections

    tenants = [tenant_create(control, index, dial_url=dial_url) for index in range(count)]
    # This process reads the database again only once the load is sent: no connection of its
    # own stays open meanwhile.
    connections.close_all()
    return tenants


def tenant_create(sandbox: SandboxControl, index: int, *, dial_url: str) -> Tenant:
    """An organisation as a customer sets it up: its Outreach org connected by its admin, a
    generic provider connection with a signing secret that places calls at `dial_url`, one
    rep's agent email mapped to them, and the rep's API token for click-to-dial."""
    from django.contrib.auth import get_user_model

    from calls.services import agent_mapping_create
    from integrations.generic.provider import GenericProvider
    from integrations.models import ProviderConnection
    from outreach_sandbox.connect import connect_sandbox_user
    from portal.accounts.services import api_token_create
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
    provider = ProviderConnection(
        organization=organization,
        kind="generic",
        name="Bench PBX",
        webhook_secrets=secret,
        places_calls=True,
    )
    provider.set_setup_values({"dial_url": dial_url})
    provider.save()
    rep_user = get_user_model().objects.create_user(
        username=f"rep{index}", email=f"rep{index}@bench.example", password=None
    )
    Membership.objects.create(organization=organization, user=rep_user, role=Role.MEMBER)
    agent_mapping_create(
        organization=organization,
        kind="email",
        value=agent_email(index),
        outreach_user_id=str(rep["id"]),
        user=rep_user,
    )
    _, token = api_token_create(
        user=rep_user, organization=organization, name="bench dials", lifetime_days=None
    )
    return Tenant(index, f"/hooks/generic/{provider.webhook_token}/", secret, rep["id"], token)


# The services ----------------------------------------------------------------------------------


def services_start(stack: ExitStack, args: argparse.Namespace, web_port: int) -> dict[str, int]:
    """Starts gunicorn, the worker and beat (stopped when `stack` closes); returns once gunicorn
    answers. Answers their process ids."""
    env = venv_environment(os.environ)
    web = stack.enter_context(
        running(
            gunicorn_command(args, web_port),
            env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
            log_path=LOGS / "gunicorn.log",
        )
    )
    worker = stack.enter_context(
        running(worker_command(args), env=env, log_path=LOGS / "worker.log")
    )
    beat = stack.enter_context(running(beat_command(), env=env, log_path=LOGS / "beat.log"))
    wait_for_http(f"http://{HOST}:{web_port}/healthz", process=web)
    return {"gunicorn": web.pid, "celery worker": worker.pid, "beat": beat.pid}


def gunicorn_command(args: argparse.Namespace, port: int) -> list[str]:
    return [
        "gunicorn", "portal.wsgi",
        "--bind", f"{HOST}:{port}",
        "--workers", str(args.web_workers),
        "--worker-class", web_class(args),
        "--threads", str(args.web_threads),
        "--no-control-socket",
    ]  # fmt: skip


def web_class(args: argparse.Namespace) -> str:
    return "gthread" if args.web_threads > 1 else "sync"


def worker_command(args: argparse.Namespace) -> list[str]:
    # Gossip, mingle and heartbeats are chatter between workers; with one worker they only
    # cost the CPU the benchmark measures.
    return [
        "celery", "-A", "portal", "worker",
        "--concurrency", str(args.workers),
        "--queues", "urgent,celery",
        "--hostname", f"bench@{socket.gethostname()}",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel", "WARNING",
    ]  # fmt: skip


def beat_command() -> list[str]:
    return [
        "celery", "-A", "portal", "beat",
        "--schedule", str(LOGS / "celerybeat-schedule"),
        "--loglevel", "WARNING",
    ]  # fmt: skip


def sandbox_pid() -> int:
    """The sandbox's process: sandbox_process keeps its Popen to itself, so find it among our
    children by its command line. 0 if not found (its CPU is then not reported)."""
    for pid in descendants(os.getpid()):
        if pid != os.getpid() and "outreach_sandbox" in _cmdline(pid):
            return pid
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
