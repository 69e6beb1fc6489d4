"""The OAuth dance through our real views against the sandbox, and every way it can go wrong."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.db import connection as database
from django.test import Client, override_settings
from django.urls import reverse

from integrations.outreach.models import (
    ConnectionKind,
    ConnectionStatus,
    OutreachConnection,
    OutreachOrg,
)
from outreach_sandbox import SandboxControl
from portal.audit.models import AuditEntry
from tests.conftest import Cast
from tests.outreach.conftest import OutreachCast
from tests.outreach.helpers import (
    authorize,
    callback,
    client_for,
    connect,
    org_connect_url,
    page_messages,
    query,
)


def my_connect_url(cast: Cast) -> str:
    return reverse("my_outreach_connect", kwargs={"org": cast.org.slug})


def raw_tokens(connection: OutreachConnection) -> tuple[str, str]:
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM outreach_outreachconnection WHERE id = %s",
            [connection.pk],
        )
        return cursor.fetchone()


def test_it_connects_the_organisation_through_outreachs_authorize_page(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    response = connect(
        client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"])
    )

    assert response.redirect_chain[-1][0] == reverse("outreach", kwargs={"org": cast.org.slug})
    assert "Outreach connected as olga@acme.example." in page_messages(response)
    connection = OutreachConnection.objects.get(organization=cast.org)
    assert connection.kind == ConnectionKind.ORGANIZATION
    assert connection.status == ConnectionStatus.ACTIVE
    assert connection.outreach_user_id == str(outreach.olga["id"])
    assert connection.outreach_name == "Olga Admin"
    assert connection.outreach_org_id == outreach.org_guid
    assert connection.connected_by == cast.alice
    assert sorted(connection.scopes) == [
        "calls.read",
        "calls.write",
        "phoneNumbers.read",
        "tasks.read",
        "users.read",
    ]
    assert OutreachOrg.objects.get(organization=cast.org).outreach_org_id == outreach.org_guid
    # The tokens work against Outreach, and are stored encrypted.
    api = sandbox.requests(path_prefix="/api/v2")
    assert api and api[-1]["status"] == 200
    access, refresh = raw_tokens(connection)
    assert connection.access_token.reveal() not in access
    assert connection.refresh_token.reveal() not in refresh
    assert access.startswith("gAAAA")  # a Fernet token
    # allauth was only the vehicle: nobody signed up, nothing was stored on its side.
    assert get_user_model().objects.count() == 4
    assert not SocialAccount.objects.exists() and not SocialToken.objects.exists()
    assert AuditEntry.objects.filter(action="outreach.connect").count() == 1


def test_it_lets_a_rep_connect_their_own_outreach_user_from_their_settings(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connect(client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"]))
    bob = client_for(cast.bob)
    response = connect(bob, my_connect_url(cast), user_id=str(outreach.rob["id"]))

    assert response.redirect_chain[-1][0] == reverse("user_settings")
    assert "Outreach connected as rob@acme.example." in page_messages(response)
    connection = OutreachConnection.objects.get(organization=cast.org, user=cast.bob)
    assert connection.kind == ConnectionKind.USER
    assert connection.outreach_user_id == str(outreach.rob["id"])
    assert b"rob@acme.example" in bob.get(reverse("user_settings")).content
    # Everybody in the organisation sees it on the Outreach page.
    page = client_for(cast.sam).get(reverse("outreach", kwargs={"org": cast.org.slug}))
    assert b"bob@example.com" in page.content and b"rob@acme.example" in page.content


def test_it_refuses_a_member_connecting_the_organisation(
    cast: Cast, sandbox: SandboxControl
) -> None:
    assert client_for(cast.bob).post(org_connect_url(cast.org)).status_code == 403
    assert client_for(cast.mallory).post(my_connect_url(cast)).status_code == 404


def test_it_explains_a_callback_whose_state_was_already_used(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    alice = client_for(cast.alice)
    url = authorize(alice, org_connect_url(cast.org), user_id=str(outreach.olga["id"]))
    callback(alice, url)
    OutreachConnection.objects.all().delete()
    OutreachOrg.objects.all().delete()

    response = callback(alice, url)

    assert response.redirect_chain[-1][0] == reverse("outreach", kwargs={"org": cast.org.slug})
    assert any("already completed" in m for m in page_messages(response))
    assert not OutreachConnection.objects.exists() and not OutreachOrg.objects.exists()


def test_it_explains_a_callback_with_a_forged_state(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    alice = client_for(cast.alice)
    url = authorize(alice, org_connect_url(cast.org), user_id=str(outreach.olga["id"]))

    response = callback(alice, url.replace(f"state={query(url)['state']}", "state=forged"))

    assert any("not valid" in m for m in page_messages(response))
    assert not OutreachConnection.objects.exists()
    # The code was never exchanged.
    assert not sandbox.requests(path_prefix="/oauth/token")


def test_it_explains_a_callback_meant_for_another_person(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    url = authorize(
        client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"])
    )

    response = callback(client_for(cast.mallory), url)

    assert any("not valid" in m for m in page_messages(response))
    assert not OutreachConnection.objects.exists()


def test_it_explains_a_refusal_on_outreachs_page(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    response = connect(
        client_for(cast.alice),
        org_connect_url(cast.org),
        user_id=str(outreach.olga["id"]),
        decision="deny",
    )

    assert response.redirect_chain[-1][0] == reverse("outreach", kwargs={"org": cast.org.slug})
    assert page_messages(response) == [
        "You declined the connection in Outreach. Nothing was saved."
    ]
    assert not OutreachConnection.objects.exists()


def test_it_refuses_an_outreach_org_already_connected_to_another_organisation(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connect(client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"]))

    response = connect(
        client_for(cast.mallory),
        reverse("outreach_connect", kwargs={"org": cast.mallory_org.slug}),
        user_id=str(outreach.rob["id"]),  # same Outreach org as Olga
    )

    assert response.redirect_chain[-1][0] == reverse(
        "outreach", kwargs={"org": cast.mallory_org.slug}
    )
    (message,) = page_messages(response)
    assert "is already connected to another Callbridge organisation" in message
    assert "Alice" not in message  # the other tenant stays anonymous
    assert not OutreachConnection.objects.filter(organization=cast.mallory_org).exists()
    assert not OutreachOrg.objects.filter(organization=cast.mallory_org).exists()


def test_it_refuses_a_rep_from_another_outreach_org(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connect(client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"]))

    response = connect(client_for(cast.bob), my_connect_url(cast), user_id=str(outreach.otto["id"]))

    assert any("belongs to another Outreach org" in m for m in page_messages(response))
    assert not OutreachConnection.objects.filter(user=cast.bob).exists()


def test_it_refuses_a_direct_social_login(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    """allauth's own login URL cannot be used to sign in or to connect behind our back."""
    alice = client_for(cast.alice)
    url = authorize(alice, reverse("outreach_login"), user_id=str(outreach.olga["id"]))

    response = callback(alice, url)

    assert any("can only be connected from" in m for m in page_messages(response))
    assert not OutreachConnection.objects.exists()
    anonymous = Client()
    url = authorize(anonymous, reverse("outreach_login"), user_id=str(outreach.olga["id"]))
    callback(anonymous, url)
    assert "_auth_user_id" not in anonymous.session
    assert get_user_model().objects.count() == 4


def test_it_explains_outreach_refusing_to_mint_a_token(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    sandbox.set_limits(mint_window=60)
    sandbox.issue_token(outreach.olga["id"], ["calls.read"])  # Olga's token minted a moment ago

    response = connect(
        client_for(cast.alice), org_connect_url(cast.org), user_id=str(outreach.olga["id"])
    )

    assert any("Outreach could not complete the connection" in m for m in page_messages(response))
    assert not OutreachConnection.objects.exists() and not OutreachOrg.objects.exists()


@contextmanager
def token_endpoint_answering(document: dict) -> Iterator[str]:
    """A token endpoint that answers `document` to every request (for answers Outreach should
    never give), on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "document, missing",
    [
        ({"access_token": "a", "expires_in": 7200}, "refresh_token"),
        ({"refresh_token": "r", "expires_in": 7200}, "access_token"),
        ({"access_token": "a", "refresh_token": "r"}, "expires_in"),
    ],
)
def test_it_explains_a_token_response_missing_fields(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast, document: dict, missing: str
) -> None:
    alice = client_for(cast.alice)
    url = authorize(alice, org_connect_url(cast.org), user_id=str(outreach.olga["id"]))

    with (
        token_endpoint_answering(document) as token_url,
        override_settings(OUTREACH_OAUTH_URL=f"{token_url}/oauth"),
    ):
        response = callback(alice, url)

    assert any(f"lacks {missing}" in m for m in page_messages(response)), page_messages(response)
    assert not OutreachConnection.objects.exists() and not OutreachOrg.objects.exists()


def test_it_disconnects_and_frees_the_outreach_org(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    alice = client_for(cast.alice)
    connect(alice, org_connect_url(cast.org), user_id=str(outreach.olga["id"]))

    response = alice.post(
        reverse("outreach_disconnect", kwargs={"org": cast.org.slug}), follow=True
    )

    assert "Outreach disconnected." in page_messages(response)[0]
    connection = OutreachConnection.objects.get(organization=cast.org)
    assert connection.status == ConnectionStatus.REVOKED
    assert not connection.access_token and not connection.refresh_token
    assert not OutreachOrg.objects.exists()
    # Now Mallory may connect that Outreach org.
    response = connect(
        client_for(cast.mallory),
        reverse("outreach_connect", kwargs={"org": cast.mallory_org.slug}),
        user_id=str(outreach.rob["id"]),
    )
    assert "Outreach connected as rob@acme.example." in page_messages(response)
