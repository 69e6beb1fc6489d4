"""One sandbox per test session, reset before every test, and the cast of its tests: Rita, a rep
of the default org, Tess her teammate, Oscar from another org who should reach none of Rita's
calls, and Pat, a prospect of Rita's org with a phone number.

The sandbox is Django-free, and so are these tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # without Django's plugin nothing else puts it there
    sys.path.insert(0, str(REPO_ROOT))

from outreach_sandbox import SandboxControl, running_sandbox  # noqa: E402

from .helpers import ALL_SCOPES, PAT_NUMBER, Api, Cast, inbound, user_ref  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture(scope="session")
def web(sandbox_url: str) -> Iterator[httpx.Client]:
    """A client of the sandbox without a token: OAuth, raw and unauthenticated requests."""
    with httpx.Client(base_url=sandbox_url, verify=False) as client:
        yield client


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox_url) as control:
        control.reset()
        yield control


@pytest.fixture
def cast(sandbox: SandboxControl) -> Cast:
    org = sandbox.default_org()
    other = sandbox.create_org("Other Co")
    return Cast(
        org_guid=org["guid"],
        rita=sandbox.create_user("rita@example.com", first_name="Rita", last_name="Rep"),
        tess=sandbox.create_user("tess@example.com", first_name="Tess", last_name="Mate"),
        oscar=sandbox.create_user("oscar@other.example", org_guid=other["guid"]),
        other_org_guid=other["guid"],
        pat=sandbox.create_prospect(first_name="Pat", last_name="Lee", phone_numbers=[PAT_NUMBER]),
    )


@pytest.fixture
def api_for(sandbox: SandboxControl, sandbox_url: str) -> Iterator[Callable[..., Api]]:
    """api_for(user, scopes=ALL_SCOPES): an Api with a fresh token for that user."""
    clients: list[Api] = []

    def make(user: dict[str, Any], scopes: tuple[str, ...] = ALL_SCOPES) -> Api:
        grant = sandbox.issue_token(user["id"], scopes, count_as_mint=False)
        clients.append(Api(sandbox_url, grant["access_token"]))
        return clients[-1]

    yield make
    for client in clients:
        client.http.close()


@pytest.fixture
def rita(cast: Cast, api_for: Callable[..., Api]) -> Api:
    return api_for(cast.rita)


@pytest.fixture
def inbound_call(rita: Api, cast: Cast) -> int:
    """An inbound call Rita's app created, with no state yet."""
    response = rita.create_call(inbound(), user_ref(cast.rita["id"]))
    assert response.status_code == 201, response.text
    return int(response.json()["data"]["id"])


@pytest.fixture
def outbound_call(sandbox: SandboxControl, cast: Cast) -> str:
    """An outbound call the Outreach client created for Rita before launching the dial."""
    return str(sandbox.launch_call(cast.rita["id"], "+12065550100")["id"])
