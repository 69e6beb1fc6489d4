"""When Outreach stops accepting a refresh token: needs_reauth, a banner, held work, and the
way back by reconnecting."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.outreach.client import OutreachClient
from integrations.outreach.errors import ConnectionUnusable, OutreachRateLimited
from integrations.outreach.models import ConnectionKind, ConnectionStatus, OutreachConnection
from integrations.outreach.selectors import connection_for_call, connection_is_usable
from integrations.outreach.signals import connection_reactivated
from integrations.outreach.tasks import refresh_idle_connections
from outreach_sandbox import SandboxControl
from portal.audit.models import AuditEntry
from tests.conftest import Cast
from tests.outreach.conftest import OutreachCast
from tests.outreach.helpers import client_for, connect, page_messages, seed_connection

FIFTEEN_DAYS = 15 * 24 * 3600  # Outreach's refresh tokens die after 14 days unused


@pytest.fixture
def bobs(cast: Cast, sandbox: SandboxControl, outreach: OutreachCast) -> OutreachConnection:
    return seed_connection(
        sandbox,
        organization=cast.org,
        outreach_user=outreach.rob,
        kind=ConnectionKind.USER,
        user=cast.bob,
    )


def expire_refresh_tokens(sandbox: SandboxControl) -> None:
    sandbox.advance_clock(FIFTEEN_DAYS)


def test_it_marks_a_connection_needing_reauth_when_outreach_refuses_the_refresh_token(
    bobs: OutreachConnection, sandbox: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    expire_refresh_tokens(sandbox)
    refresh_token = bobs.refresh_token.reveal()

    with caplog.at_level(logging.DEBUG), pytest.raises(ConnectionUnusable) as raised:
        OutreachClient(connection=bobs).whoami()

    bobs.refresh_from_db()
    assert bobs.status == ConnectionStatus.NEEDS_REAUTH and not connection_is_usable(
        connection=bobs
    )
    assert "refresh token" in bobs.status_reason
    assert not raised.value.permanent
    # Outreach's 401, then the refused refresh: both recorded, no secret among them.
    assert [(a.path, a.status) for a in raised.value.attempts] == [
        ("/", 401),
        ("/oauth/token", 400),
    ]
    assert raised.value.attempts[1].error_id == "invalid_grant"
    assert refresh_token not in repr(raised.value.attempts)
    assert AuditEntry.objects.filter(action="outreach.needs_reauth").count() == 1
    assert refresh_token not in caplog.text
    # Nothing more is tried with it: Outreach sees no further request.
    seen = len(sandbox.requests(path_prefix="/oauth"))
    with pytest.raises(ConnectionUnusable):
        OutreachClient(connection=bobs).whoami()
    assert len(sandbox.requests(path_prefix="/oauth")) == seen


def test_it_shows_a_banner_to_the_rep_and_the_organisations_admins(
    cast: Cast, bobs: OutreachConnection, sandbox: SandboxControl
) -> None:
    expire_refresh_tokens(sandbox)
    with pytest.raises(ConnectionUnusable):
        OutreachClient(connection=bobs).whoami()
    dashboard = reverse("dashboard", kwargs={"org": cast.org.slug})

    for_bob = client_for(cast.bob).get(dashboard).content.decode()
    for_alice = client_for(cast.alice).get(dashboard).content.decode()
    for_sam = client_for(cast.sam).get(dashboard).content.decode()

    assert "Outreach stopped accepting" in for_bob and "your Outreach connection" in for_bob
    assert "Outreach stopped accepting" in for_alice and "bob@example.com" in for_alice
    assert "Outreach stopped accepting" not in for_sam
    assert (
        "Outreach stopped accepting"
        not in client_for(cast.mallory).get("/settings/").content.decode()
    )


def test_it_sends_a_reps_calls_through_the_organisation_while_theirs_needs_reauth(
    cast: Cast, bobs: OutreachConnection, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    shared = seed_connection(sandbox, organization=cast.org, outreach_user=outreach.olga)
    bobs.status = ConnectionStatus.NEEDS_REAUTH
    bobs.save()

    chosen = connection_for_call(organization=cast.org, owner=cast.bob)

    assert chosen.connection == shared and chosen.outreach_user_id == str(outreach.rob["id"])


def test_it_holds_work_until_the_rep_reconnects_then_fires_the_hook(
    cast: Cast,
    bobs: OutreachConnection,
    sandbox: SandboxControl,
    outreach: OutreachCast,
    django_capture_on_commit_callbacks: object,
) -> None:
    expire_refresh_tokens(sandbox)
    with pytest.raises(ConnectionUnusable):
        OutreachClient(connection=bobs).whoami()
    with pytest.raises(ConnectionUnusable):  # no organisation connection either: held
        connection_for_call(organization=cast.org, owner=cast.bob)
    fired: list[dict] = []

    def resume(**kwargs: object) -> None:
        fired.append(kwargs)

    connection_reactivated.connect(resume)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = connect(
                client_for(cast.bob),
                reverse("my_outreach_connect", kwargs={"org": cast.org.slug}),
                user_id=str(outreach.rob["id"]),
            )
    finally:
        connection_reactivated.disconnect(resume)

    assert "Outreach connected as rob@acme.example." in page_messages(response)
    bobs.refresh_from_db()
    assert bobs.status == ConnectionStatus.ACTIVE and bobs.status_reason == ""
    assert [(f["connection"].pk, f["previous_status"]) for f in fired] == [
        (bobs.pk, ConnectionStatus.NEEDS_REAUTH)
    ]
    # The held work can go now, with Bob's own connection, which Outreach accepts again.
    chosen = connection_for_call(organization=cast.org, owner=cast.bob)
    assert chosen.connection == bobs
    identity, _ = OutreachClient(connection=chosen.connection).whoami()
    assert identity.user_id == str(outreach.rob["id"])
    assert (
        "Outreach stopped accepting" not in client_for(cast.bob).get("/settings/").content.decode()
    )


def test_it_treats_a_429_from_the_token_endpoint_as_transient(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    sandbox.set_limits(mint_window=60)
    grant_just_minted = seed_connection(
        sandbox, organization=cast.org, outreach_user=outreach.olga, expires_in=timedelta(minutes=2)
    )
    sandbox.issue_token(outreach.olga["id"], ["calls.read"])  # counts as this minute's mint

    # Still two minutes to live: the request goes out with the current token.
    identity, _ = OutreachClient(connection=grant_just_minted).whoami()
    assert identity.user_id == str(outreach.olga["id"])

    # Already expired on our side: the caller is told to retry later, nothing is marked.
    grant_just_minted.expires_at = timezone.now() - timedelta(seconds=1)
    grant_just_minted.save()
    with pytest.raises(OutreachRateLimited) as raised:
        OutreachClient(connection=grant_just_minted).whoami()
    assert not raised.value.permanent and raised.value.retry_after > 0
    grant_just_minted.refresh_from_db()
    assert grant_just_minted.status == ConnectionStatus.ACTIVE


def test_it_keeps_an_idle_connection_alive_before_its_refresh_token_dies(
    cast: Cast, bobs: OutreachConnection, sandbox: SandboxControl
) -> None:
    OutreachConnection.objects.filter(pk=bobs.pk).update(
        connected_at=timezone.now() - timedelta(days=8)
    )
    old_refresh = bobs.refresh_token

    refresh_idle_connections()

    bobs.refresh_from_db()
    assert bobs.refresh_token != old_refresh and bobs.refreshed_at is not None
    assert len(sandbox.requests(path_prefix="/oauth/token")) == 1
    refresh_idle_connections()  # refreshed a moment ago: left alone
    assert len(sandbox.requests(path_prefix="/oauth/token")) == 1
