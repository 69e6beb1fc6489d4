"""The real thing for pipeline tests: the sandbox as its own process, a Celery worker process on
the real broker, PostgreSQL with committed data, and webhooks signed as providers sign them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from calls.models import Call
from calls.services import agent_mapping_create
from integrations.models import ProviderConnection
from outreach_sandbox.connect import connect_sandbox_user
from outreach_sandbox.control import SandboxControl
from outreach_sandbox.launcher import sandbox_process
from portal.tenancy.models import Membership, Organization, Role
from tests.conftest import make_user
from tests.pipeline.helpers import Pipeline
from tests.processes import child_process_environment, free_port, running, wait_for_http

SIGNING_SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtZ2VuZXJpYy13ZWJob29r"


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with sandbox_process() as url:
        yield url


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox_url) as control:
        control.reset()
        yield control


@pytest.fixture(scope="session")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """portal.clock's offset, shared by this process and the workers (see portal/clock.py)."""
    path = tmp_path_factory.mktemp("clock") / "offset"
    path.write_text("0")
    os.environ["CLOCK_OFFSET_FILE"] = str(path)
    yield path
    del os.environ["CLOCK_OFFSET_FILE"]


@pytest.fixture
def clock_offset(clock_file: Path, sandbox: SandboxControl) -> Iterator[Callable[[float], None]]:
    """Move our clock and Outreach's together, for every process."""

    def shift(seconds: float) -> None:
        clock_file.write_text(str(seconds))
        sandbox.set_clock_offset(seconds)

    yield shift
    clock_file.write_text("0")


@pytest.fixture(scope="session")
def worker(
    django_db_setup: None, django_db_blocker: object, sandbox_url: str, clock_file: Path
) -> Iterator[None]:
    """Two real Celery worker processes on the real broker, consuming both queues."""
    with django_db_blocker.unblock():
        env = child_process_environment(
            OUTREACH_API_URL=f"{sandbox_url}/api/v2", OUTREACH_OAUTH_URL=f"{sandbox_url}/oauth"
        )
    command = [
        "celery",
        "-A",
        "portal",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        "2",
        "--queues",
        "urgent,celery",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with running(command, env=env) as process:
        yield process


def quiesce() -> None:
    """Stop the workers' work on this test's calls before the database is flushed under them."""
    Call.objects.update(due_at=None, status="done")
    deadline = time.monotonic() + 30
    while Call.objects.filter(lease_until__gt=timezone.now()).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)


@pytest.fixture
def pipeline(
    transactional_db: None, sandbox: SandboxControl, worker: object, settings: object
) -> Iterator[Pipeline]:
    """Alice's organisation with its Outreach org connected, a generic provider connection and
    one rep (Rita) whose agent email is mapped to her Outreach user."""
    settings.OUTREACH_API_URL = f"{sandbox.base_url}/api/v2"
    settings.OUTREACH_OAUTH_URL = f"{sandbox.base_url}/oauth"
    organization = Organization.objects.create(name="Alice & Co", slug="alice-co")
    alice = make_user("alice@example.com")
    Membership.objects.create(organization=organization, user=alice, role=Role.ADMIN)
    admin = sandbox.create_user(email="admin@alice.example", first_name="Ada", last_name="Admin")
    rita = sandbox.create_user(email="rita@alice.example", first_name="Rita", last_name="Rep")
    connect_sandbox_user(sandbox=sandbox, organization=organization, user=admin, actor=alice)
    provider = ProviderConnection.objects.create(
        organization=organization, kind="generic", name="Our PBX", webhook_secrets=SIGNING_SECRET
    )
    agent_mapping_create(
        organization=organization,
        kind="email",
        value="rita@pbx.example",
        outreach_user_id=str(rita["id"]),
    )
    yield Pipeline(
        sandbox=sandbox,
        organization=organization,
        provider=provider,
        secret=SIGNING_SECRET,
        rep_outreach_id=rita["id"],
        admin_outreach_id=admin["id"],
    )
    quiesce()


@pytest.fixture
def web(pipeline: Pipeline) -> Iterator[str]:
    """gunicorn with the test environment (EXTRA_PROVIDERS included), its PUBLIC_BASE_URL its own
    address and Outreach the sandbox (pages that ask Outreach, like the Agents page's user
    lookup, reach it); the base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox = pipeline.sandbox.base_url
    env = child_process_environment(
        PUBLIC_BASE_URL=base,
        OUTREACH_API_URL=f"{sandbox}/api/v2",
        OUTREACH_OAUTH_URL=f"{sandbox}/oauth",
    )
    command = ["gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    with running(command, env=env) as process:
        wait_for_http(f"{base}/healthz", process=process)
        yield base
