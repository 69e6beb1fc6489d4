"""Bob (a rep of Alice & Co) with an API token, mapped to his Outreach user and his agent at the
phone system, and the organisation's generic connection placing calls through a fake phone
system on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calls.models import AgentMapping
from outreach_sandbox.phone import PhoneSystem, running_phone
from portal.accounts.services import api_token_create
from tests.conftest import Cast
from tests.dialling.helpers import SECRET, Dialling, generic_connection


@pytest.fixture
def dialling(cast: Cast) -> Iterator[Dialling]:
    with running_phone(PhoneSystem(auto_events=())) as (phone, url):
        phone.set_up(webhook_url="", secrets=[SECRET])
        AgentMapping.objects.create(
            organization=cast.org,
            kind="email",
            value="bob@pbx.example",
            outreach_user_id="42",
            user=cast.bob,
        )
        _, token = api_token_create(
            user=cast.bob, organization=cast.org, name="Chrome", lifetime_days=None
        )
        connection = generic_connection(cast, dial_url=f"{url}/dial")
        yield Dialling(cast, token, connection, phone, url)
