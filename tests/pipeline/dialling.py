"""Click-to-dial on real processes: Rita, a rep of the pipeline's organisation, with an API token
and her agent mapped to her; the generic connection placing calls through the phone sandbox on
loopback, which reports back to the portal on gunicorn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from django.contrib.auth.models import AbstractUser

from calls.models import AgentMapping
from outreach_sandbox.phone import PhoneSystem, running_phone
from portal.accounts.services import api_token_create
from portal.tenancy.models import Membership, Role
from tests.conftest import make_user
from tests.dialling.helpers import portal_server
from tests.pipeline.helpers import Pipeline

PAT_NUMBER = "+12065550100"


@dataclass
class DialFlow:
    pipeline: Pipeline
    web: str
    phone: PhoneSystem
    phone_url: str
    token: str
    rita: AbstractUser

    def launch(self, to: str = PAT_NUMBER, **options: Any) -> str:
        """Rita clicks Call in Outreach: the Outreach client creates the call first."""
        return str(
            self.pipeline.sandbox.launch_call(self.pipeline.rep_outreach_id, to, **options)["id"]
        )

    def dial(self, call_id: str, *, web: str | None = None, **message: str) -> httpx.Response:
        body = {"source": "outreach", "callId": call_id, "phoneNumber": PAT_NUMBER, **message}
        return httpx.post(
            f"{web or self.web}/api/v1/dial",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def status(self, call_id: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.web}/api/v1/dial/{call_id}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        return answer.json()


@contextmanager
def dial_flow(pipeline: Pipeline, *, web_host: str = "127.0.0.1") -> Iterator[DialFlow]:
    rita = make_user("rita@alice.example")
    Membership.objects.create(organization=pipeline.organization, user=rita, role=Role.MEMBER)
    AgentMapping.objects.filter(value="rita@pbx.example").update(user=rita)
    _, token = api_token_create(
        user=rita, organization=pipeline.organization, name="Chrome", lifetime_days=None
    )
    with running_phone() as (phone, phone_url), portal_server(host=web_host) as web:
        connection = pipeline.provider
        connection.set_setup_values({"dial_url": f"{phone_url}/dial"})
        connection.places_calls = True
        connection.save()
        phone.set_up(
            webhook_url=f"{web}/hooks/generic/{connection.webhook_token}/",
            secrets=[pipeline.secret],
        )
        yield DialFlow(pipeline, web, phone, phone_url, token, rita)
