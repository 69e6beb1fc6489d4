"""Sending signed generic webhooks and waiting for Outreach (the sandbox) to agree."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.test import Client
from standardwebhooks.webhooks import Webhook

from integrations.models import ProviderConnection
from integrations.outreach.authorization.provider import SCOPES as PRODUCT_SCOPES
from outreach_sandbox.control import CallView, SandboxControl
from portal.tenancy.models import Organization


def signed_headers(
    secret: str, body: str, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


@dataclass
class Pipeline:
    SCOPES = tuple(PRODUCT_SCOPES)  # exactly what the product asks Outreach for

    sandbox: SandboxControl
    organization: Organization
    provider: ProviderConnection
    secret: str
    rep_outreach_id: int
    admin_outreach_id: int
    start: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=2))
    client: Client = field(default_factory=Client)

    @property
    def url(self) -> str:
        return f"/hooks/generic/{self.provider.webhook_token}/"

    def event(
        self,
        call_id: str,
        happening: str,
        second: float,
        *,
        direction: str = "outbound",
        **extra: Any,
    ) -> dict[str, Any]:
        """An event `second` seconds into the test's timeline, by Rita's agent."""
        return {
            "id": f"{call_id}:{happening}:{second}",
            "call_id": call_id,
            "direction": direction,
            "happening": happening,
            "occurred_at": (self.start + timedelta(seconds=second)).isoformat(),
            "agent": {"email": "rita@pbx.example"},
            **extra,
        }

    def post(self, events: list[dict[str, Any]], **headers: str) -> Any:
        body = json.dumps({"events": events})
        return self.client.post(
            self.url,
            body,
            content_type="application/json",
            headers={**signed_headers(self.secret, body), **headers},
        )

    def send(self, events: list[dict[str, Any]]) -> None:
        response = self.post(events)
        assert response.status_code == 200, response.content

    def wait_for(
        self, call_id: str, predicate: Callable[[CallView], bool], *, timeout: float = 60.0
    ) -> CallView:
        deadline = time.monotonic() + timeout
        view = self.sandbox.call(call_id)
        while not predicate(view):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"call {call_id} did not get there: {json.dumps(view)[:3000]}\n"
                    f"our side: {our_side(call_id)}"
                )
            time.sleep(0.1)
            view = self.sandbox.call(call_id)
        return view


def our_side(outreach_call_id: str) -> str:
    """What we know of a call, for a failing test's message."""
    from calls.models import Call

    lines = []
    for call in Call.objects.filter(outreach_call_id=outreach_call_id):
        lines.append(f"{call} status={call.status} problem={call.problem!r} due={call.due_at}")
        lines += [f"  event {e.happening} {e.status} {e.reason}" for e in call.events.all()]
        lines += [
            f"  attempt {a.method} {a.path} {a.status_code} {a.outcome} {a.error}"
            for a in call.attempts.all()
        ]
    return "\n".join(lines) or "no call"


def eventually(check: Callable[[], bool], *, timeout: float = 60.0) -> None:
    """For our own side of the pipeline, which records Outreach's answer just after it comes."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def state_of(view: CallView) -> str | None:
    return view["call"]["attributes"].get("state")


def refusals(sandbox: SandboxControl) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests(path_prefix="/api/v2") if r["status"] >= 400]
