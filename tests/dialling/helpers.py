"""What the dial tests share: a generic connection that places calls, the portal on gunicorn."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.test import Client

from integrations.generic.provider import GenericProvider
from integrations.models import ProviderConnection
from integrations.provider import PlaceCallRequest, Placed, Refused, Unconfirmed
from outreach_sandbox.phone import PhoneSystem
from portal import clock
from portal.encryption import Secret
from tests.conftest import Cast
from tests.processes import child_process_environment, free_port, running, wait_for_http

SECRET = "whsec_" + base64.b64encode(b"dial-tests-secret-32-bytes-long!").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
CALL_ID = "91FCF82E-9817-4C73-959F-4CF4A0DB334D"


@dataclass
class Dialling:
    cast: Cast
    token: str
    connection: ProviderConnection
    phone: PhoneSystem
    phone_url: str

    def client(self, token: str | None = None) -> Client:
        return Client(headers={"Authorization": f"Bearer {token or self.token}"})

    def dial(self, body: dict[str, object], *, token: str | None = None) -> object:
        return self.client(token).post("/api/v1/dial", body, content_type="application/json")


def generic_connection(
    cast: Cast, *, dial_url: str, places_calls: bool = True
) -> ProviderConnection:
    connection = ProviderConnection(
        organization=cast.org,
        kind="generic",
        name="Office PBX",
        webhook_secrets=Secret(SECRET),
        places_calls=places_calls,
    )
    connection.set_setup_values({"dial_url": dial_url})
    connection.save()
    return connection


@contextmanager
def portal_server(*, host: str = "127.0.0.1", **env: str) -> Iterator[str]:
    """The portal on gunicorn (2 processes x 4 threads, like production's gthread): a dial
    waiting on the phone system must not keep the phone system's webhook from being taken."""
    port = free_port()
    base = f"http://{host}:{port}"
    environment = child_process_environment(PUBLIC_BASE_URL=base, **env)
    command = [
        "gunicorn",
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
        # Stopping must not wait out a kept-alive connection for gunicorn's 30 s default.
        "--graceful-timeout",
        "3",
    ]
    with running(command, env=environment) as process:
        wait_for_http(f"{base}/healthz", process=process)
        yield base


def place(
    connection: ProviderConnection, *, seconds: float = 5.0
) -> Placed | Refused | Unconfirmed:
    return GenericProvider().place_call(
        PlaceCallRequest(
            connection=connection,
            outreach_call_id=CALL_ID,
            to_number="+12065550100",
            extension="1234",
            agent={"email": "rita@pbx.example", "extension": "201"},
        ),
        deadline=clock.now() + timedelta(seconds=seconds),
        idempotency_key=CALL_ID,
    )
