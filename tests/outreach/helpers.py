"""Driving the OAuth dance with plain HTTP: our views through Django's test client, the sandbox's
authorize page with httpx form posts, as a browser would."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.outreach.models import ConnectionKind, OutreachConnection, OutreachOrg
from outreach_sandbox import SandboxControl
from portal.tenancy.models import Organization

HIDDEN = re.compile(r"<input type='hidden' name='(\w+)' value='([^']*)'>")


def client_for(user: object) -> Client:
    """A test client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def org_connect_url(organization: Organization) -> str:
    """Where an admin starts connecting the organisation to Outreach."""
    return reverse("outreach_connect", kwargs={"org": organization.slug})


def authorize(client: Client, start_url: str, **choice: str) -> str:
    """Press "Connect" at `start_url`, answer the sandbox's page with `choice` (user_id=... and
    decision=approve by default); answers the callback URL the sandbox sends the browser to."""
    start = client.post(start_url)
    assert start.status_code == 302, start
    page = httpx.get(start["Location"])
    assert page.status_code == 200, page.text
    form = {name: unescape(value) for name, value in HIDDEN.findall(page.text)}
    form.update({"decision": "approve", **choice})
    action = start["Location"].split("?")[0]
    answer = httpx.post(action, data=form)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def callback(client: Client, callback_url: str) -> HttpResponse:
    """Follow the sandbox's redirect back to our callback, and on to the page it sends us to."""
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}", follow=True)


def connect(client: Client, start_url: str, **choice: str) -> HttpResponse:
    return callback(client, authorize(client, start_url, **choice))


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def page_messages(response: HttpResponse) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def seed_connection(
    sandbox: SandboxControl,
    *,
    organization: Organization,
    outreach_user: dict,
    kind: ConnectionKind = ConnectionKind.ORGANIZATION,
    user: object = None,
    scopes: tuple[str, ...] = ("calls.read", "calls.write", "users.read", "phoneNumbers.read"),
    expires_in: timedelta | None = None,
) -> OutreachConnection:
    """A connection as the OAuth dance leaves it, with a real sandbox grant (for tests that are
    about what happens after connecting)."""
    grant = sandbox.issue_token(outreach_user["id"], scopes, count_as_mint=False)
    OutreachOrg.objects.get_or_create(
        organization=organization, defaults={"outreach_org_id": outreach_user["orgGuid"]}
    )
    return OutreachConnection.objects.create(
        organization=organization,
        kind=kind,
        user=user,
        outreach_user_id=str(outreach_user["id"]),
        outreach_email=outreach_user["email"],
        outreach_org_id=outreach_user["orgGuid"],
        scopes=list(scopes),
        access_token=grant["access_token"],
        refresh_token=grant["refresh_token"],
        expires_at=timezone.now() + (expires_in or timedelta(seconds=grant["expires_in"])),
    )
