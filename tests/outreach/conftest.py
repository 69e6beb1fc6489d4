"""The Outreach sandbox (one per session, reset before each test) and settings pointing at it.

Alice's organisation works with the sandbox's default org; Olga is the Outreach admin there and
Rob is the Outreach user of Bob (Alice's rep). Mallory's organisation has its own Outreach org.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import override_settings

from outreach_sandbox import SandboxControl, running_sandbox
from outreach_sandbox.control import UserInfo

CLIENT_ID = "callbridge-dev"
CLIENT_SECRET = "callbridge-dev-secret"
PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # its callback is registered with the sandbox


def outreach_settings(sandbox_url: str) -> dict[str, object]:
    return {
        "OUTREACH_OAUTH_URL": f"{sandbox_url}/oauth",
        "OUTREACH_API_URL": f"{sandbox_url}/api/v2",
        "OUTREACH_CLIENT_ID": CLIENT_ID,
        "OUTREACH_CLIENT_SECRET": CLIENT_SECRET,
        "SOCIALACCOUNT_PROVIDERS": {
            "outreach": {"APPS": [{"client_id": CLIENT_ID, "secret": CLIENT_SECRET}]}
        },
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox_url) as control:
        control.reset()
        # Most tests refresh right after connecting; the one-mint-a-minute rule has its own test.
        control.set_limits(mint_window=0)
        with override_settings(**outreach_settings(sandbox_url)):
            yield control


@dataclass
class OutreachCast:
    org_guid: str
    olga: UserInfo  # Outreach admin of the default org, connected by Alice
    rob: UserInfo  # Bob's Outreach user
    other_org_guid: str
    otto: UserInfo  # an Outreach user of another Outreach org


@pytest.fixture
def outreach(sandbox: SandboxControl) -> OutreachCast:
    org = sandbox.default_org()
    other = sandbox.create_org("Other Outreach Org")
    return OutreachCast(
        org_guid=org["guid"],
        olga=sandbox.create_user("olga@acme.example", first_name="Olga", last_name="Admin"),
        rob=sandbox.create_user("rob@acme.example", first_name="Rob", last_name="Rep"),
        other_org_guid=other["guid"],
        otto=sandbox.create_user("otto@other.example", org_guid=other["guid"]),
    )
