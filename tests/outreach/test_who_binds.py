"""Who may bind an organisation to an Outreach org, and how a connection leaves with its person:
only admins bind; a removed member's own connection is disconnected (their calls fall back to the
organisation's connection); admins disconnect a rep; platform staff move a wrongly bound org."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.outreach.models import (
    ConnectionKind,
    ConnectionStatus,
    OutreachConnection,
    OutreachOrg,
)
from integrations.outreach.selectors import connection_for_call
from outreach_sandbox import SandboxControl
from portal.audit.models import AuditEntry
from portal.tenancy.models import Membership
from tests.conftest import Cast, make_user
from tests.outreach.conftest import OutreachCast
from tests.outreach.helpers import client_for, connect, org_connect_url, page_messages


def my_connect_url(cast: Cast, org: str | None = None) -> str:
    return reverse("my_outreach_connect", kwargs={"org": org or cast.org.slug})


def outreach_page(cast: Cast) -> str:
    return reverse("outreach", kwargs={"org": cast.org.slug})


def test_it_refuses_a_reps_own_connection_before_an_admin_connected_the_organisation(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    bob = client_for(cast.bob)
    assert (
        b"An admin of Alice &amp; Co connects its Outreach org first"
        in bob.get(reverse("user_settings")).content
    )

    response = connect(bob, my_connect_url(cast), user_id=str(outreach.rob["id"]))

    (message,) = page_messages(response)
    assert "not connected to an Outreach org yet: an admin connects it first" in message
    assert not OutreachOrg.objects.exists() and not OutreachConnection.objects.exists()
    # The Outreach org is still free for the organisation whose admin connects it.
    response = connect(
        client_for(cast.mallory),
        reverse("outreach_connect", kwargs={"org": cast.mallory_org.slug}),
        user_id=str(outreach.olga["id"]),
    )
    assert "Outreach connected as olga@acme.example." in page_messages(response)


def test_it_lets_an_admins_own_connection_bind_and_then_reps_join(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connect(client_for(cast.alice), my_connect_url(cast), user_id=str(outreach.olga["id"]))
    assert OutreachOrg.objects.get(organization=cast.org).outreach_org_id == outreach.org_guid

    response = connect(client_for(cast.bob), my_connect_url(cast), user_id=str(outreach.rob["id"]))

    assert "Outreach connected as rob@acme.example." in page_messages(response)
    assert OutreachConnection.objects.filter(user=cast.bob, status=ConnectionStatus.ACTIVE).exists()


@pytest.fixture
def connected(cast: Cast, sandbox: SandboxControl, outreach: OutreachCast) -> OutreachConnection:
    """Alice connected the organisation as Olga; Bob connected his own Outreach user, Rob.
    Returns Bob's connection."""
    connect(client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"]))
    connect(client_for(cast.bob), my_connect_url(cast), user_id=str(outreach.rob["id"]))
    return OutreachConnection.objects.get(user=cast.bob)


def test_it_disconnects_a_removed_members_connection_and_their_calls_fall_back(
    cast: Cast, connected: OutreachConnection, outreach: OutreachCast
) -> None:
    assert connection_for_call(organization=cast.org, owner=cast.bob).connection == connected
    membership = Membership.objects.get(organization=cast.org, user=cast.bob)

    client_for(cast.alice).post(
        reverse("membership_remove", kwargs={"org": cast.org.slug, "membership_id": membership.pk})
    )

    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.REVOKED
    assert not connected.access_token and not connected.refresh_token
    assert "bob@example.com left Alice & Co (removed by alice@example.com)" in (
        connected.status_reason
    )
    # Bob's calls now go out with the organisation's connection, still logged for Rob.
    chosen = connection_for_call(organization=cast.org, owner=cast.bob)
    assert chosen.connection.kind == ConnectionKind.ORGANIZATION
    assert chosen.outreach_user_id == str(outreach.rob["id"])
    assert chosen.connection.kind == ConnectionKind.ORGANIZATION  # on the rep's behalf
    disconnect = AuditEntry.objects.get(action="outreach.disconnect")
    assert disconnect.actor_label == "alice@example.com" and disconnect.organization_id == (
        cast.org.pk
    )
    assert b"rob@acme.example" not in client_for(cast.alice).get(outreach_page(cast)).content


def test_it_lets_an_admin_disconnect_a_reps_connection_and_nobody_else(
    cast: Cast, connected: OutreachConnection
) -> None:
    url = reverse(
        "outreach_rep_disconnect",
        kwargs={"org": cast.org.slug, "outreach_connection_id": connected.pk},
    )
    alice = client_for(cast.alice)
    assert url.encode() in alice.get(outreach_page(cast)).content
    assert url.encode() not in client_for(cast.sam).get(outreach_page(cast)).content

    assert client_for(cast.bob).post(url).status_code == 403
    assert client_for(cast.sam).post(url).status_code == 403
    assert client_for(cast.mallory).post(url).status_code == 404
    mallorys_url = reverse(
        "outreach_rep_disconnect",
        kwargs={"org": cast.mallory_org.slug, "outreach_connection_id": connected.pk},
    )
    assert client_for(cast.mallory).post(mallorys_url).status_code == 404  # not her rep
    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.ACTIVE

    response = alice.post(url, follow=True)

    assert (
        "The Outreach connection of bob@example.com is disconnected" in page_messages(response)[0]
    )
    connected.refresh_from_db()
    assert connected.status == ConnectionStatus.REVOKED
    # The organisation stays bound: its own connection still works for Bob's calls.
    assert OutreachOrg.objects.filter(organization=cast.org).exists()
    chosen = connection_for_call(organization=cast.org, owner=cast.bob)
    assert chosen.connection.kind == ConnectionKind.ORGANIZATION  # on the rep's behalf


def test_it_lets_platform_staff_move_an_outreach_org_bound_to_the_wrong_organisation(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    # Mallory's admin got there first with an account of Alice's Outreach org.
    connect(
        client_for(cast.mallory),
        reverse("outreach_connect", kwargs={"org": cast.mallory_org.slug}),
        user_id=str(outreach.rob["id"]),
    )
    refused = connect(
        client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"])
    )
    assert "already connected to another Callbridge organisation" in page_messages(refused)[0]
    staff = make_user("staff@callbridge.example", is_staff=True)

    call_command(
        "move_outreach_org",
        outreach.org_guid,
        cast.org.slug,
        staff="staff@callbridge.example",
        reason="Ticket 42: Mallory Inc connected its reseller's Outreach org by mistake",
    )

    assert OutreachOrg.objects.get(outreach_org_id=outreach.org_guid).organization == cast.org
    mallorys = OutreachConnection.objects.get(organization=cast.mallory_org)
    assert mallorys.status == ConnectionStatus.REVOKED and not mallorys.access_token
    moves = AuditEntry.objects.filter(action__startswith="outreach.org_moved").order_by("action")
    assert [(e.action, e.organization_id, e.actor_id) for e in moves] == [
        ("outreach.org_moved_away", cast.mallory_org.pk, staff.pk),
        ("outreach.org_moved_in", cast.org.pk, staff.pk),
    ]
    assert moves[0].data["reason"].startswith("Ticket 42")
    assert moves[0].data["connections_disconnected"] == 1
    # Alice's organisation can now connect it.
    response = connect(
        client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"])
    )
    assert "Outreach connected as olga@acme.example." in page_messages(response)


def test_it_refuses_a_move_by_anyone_but_staff_or_onto_a_bound_organisation(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connect(client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"]))
    connect(
        client_for(cast.mallory),
        reverse("outreach_connect", kwargs={"org": cast.mallory_org.slug}),
        user_id=str(outreach.otto["id"]),
    )
    make_user("staff@callbridge.example", is_staff=True)

    with pytest.raises(CommandError, match="not an active platform staff member"):
        call_command(
            "move_outreach_org",
            outreach.org_guid,
            "mallory-inc",
            staff="alice@example.com",
            reason="x",
        )
    with pytest.raises(CommandError, match="already connected to an Outreach org"):
        call_command(
            "move_outreach_org",
            outreach.org_guid,
            "mallory-inc",
            staff="staff@callbridge.example",
            reason="x",
        )

    assert OutreachOrg.objects.get(outreach_org_id=outreach.org_guid).organization == cast.org
    assert not AuditEntry.objects.filter(action__startswith="outreach.org_moved").exists()
