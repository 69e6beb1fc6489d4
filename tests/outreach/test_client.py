"""The Outreach client against the sandbox over loopback HTTP."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from django.test import override_settings
from django.utils import timezone as django_timezone

from integrations.outreach.budget import HOURLY_LIMIT
from integrations.outreach.client import (
    CallAsOutreachHasIt,
    OutreachClient,
    ReadCall,
    UpdateCall,
    describe,
    update_attributes,
)
from integrations.outreach.errors import OutreachError, OutreachRateLimited
from integrations.outreach.models import OutreachConnection, OutreachRateWindow
from outreach_sandbox import SandboxControl
from tests.conftest import Cast
from tests.outreach.conftest import OutreachCast
from tests.outreach.helpers import seed_connection

NUMBER = "+12065550100"


def outreach_paths(sandbox: SandboxControl) -> list[str]:
    """What reached Outreach itself (the sandbox logs its control API too)."""
    return [r["path"] for r in sandbox.requests() if not r["path"].startswith("/_control")]


@pytest.fixture
def client(cast: Cast, sandbox: SandboxControl, outreach: OutreachCast) -> OutreachClient:
    connection = seed_connection(sandbox, organization=cast.org, outreach_user=outreach.olga)
    with OutreachClient(connection=connection) as client:
        yield client


def test_it_says_who_authorised_us(client: OutreachClient, outreach: OutreachCast) -> None:
    identity, response = client.whoami()

    assert identity.user_id == str(outreach.olga["id"])
    assert identity.email == "olga@acme.example" and identity.name == "Olga Admin"
    assert identity.org_id == outreach.org_guid
    assert response.attempt.method == "GET" and response.attempt.status == 200


def test_it_finds_users_and_prospects(
    client: OutreachClient, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    prospect = sandbox.create_prospect(first_name="Pat", phone_numbers=["+1 (206) 555-0100"])

    assert client.find_user_by_email("rob@acme.example")[0] == str(outreach.rob["id"])
    assert client.find_user_by_email("nobody@acme.example")[0] is None
    assert client.find_prospect_by_number(NUMBER)[0] == str(prospect["id"])
    assert client.find_prospect_by_number("+12065550199")[0] is None


def test_it_creates_and_updates_an_inbound_call(
    client: OutreachClient, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    prospect = sandbox.create_prospect(phone_numbers=[NUMBER])
    created = client.create_call(
        outreach_user_id=str(outreach.rob["id"]),
        from_number=NUMBER,
        to_number="+12065550111",
        vendor_call_id="CA123",
        prospect_id=str(prospect["id"]),
    )
    ringing_at = django_timezone.now()
    client.update_call(
        created.call_id, attributes={"state": "ringing", "stateChangedAt": ringing_at}
    )
    updated = client.update_call(created.call_id, attributes={"state": "in progress"})

    call = sandbox.call(created.call_id)["call"]
    assert call["attributes"]["state"] == "in progress"
    assert call["relationships"]["user"]["data"]["id"] == outreach.rob["id"]
    attempt = created.response.attempt
    assert (attempt.method, attempt.path, attempt.status) == ("POST", "/calls", 201)
    assert attempt.request_body["data"]["attributes"]["vendorCallId"] == "CA123"
    assert attempt.duration > 0 and attempt.error_id is None
    assert updated.attempt.path == f"/calls/{created.call_id}"
    logged = sandbox.requests(path_prefix="/api/v2/calls")
    assert all(r["requestContentType"] == "application/vnd.api+json" for r in logged)


def test_it_raises_a_permanent_error_with_outreachs_id_and_detail(
    client: OutreachClient, outreach: OutreachCast
) -> None:
    with pytest.raises(OutreachError) as raised:
        client.update_call("999999", attributes={"state": "ringing"})

    error = raised.value
    assert error.permanent and error.status == 404 and error.error_id == "resourceNotFound"
    assert "999999" in error.detail
    assert error.attempt.status == 404 and error.attempt.error_id == "resourceNotFound"
    assert error.attempt.response_body["errors"][0]["id"] == "resourceNotFound"


def test_it_raises_a_transient_error_on_a_server_error(
    client: OutreachClient, sandbox: SandboxControl
) -> None:
    sandbox.fail_next(path_prefix="/api/v2/users")

    with pytest.raises(OutreachError) as raised:
        client.find_user_by_email("rob@acme.example")

    assert not raised.value.permanent and raised.value.status == 500


def test_it_gives_up_on_a_slow_answer_as_transient(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connection = seed_connection(sandbox, organization=cast.org, outreach_user=outreach.olga)
    sandbox.hang_next(2.0, path_prefix="/api/v2/users")
    slow = OutreachClient(connection=connection, http=httpx.Client(timeout=httpx.Timeout(0.5)))

    with pytest.raises(OutreachError) as raised:
        slow.find_user_by_email("rob@acme.example")

    assert not raised.value.permanent
    assert raised.value.attempt.status is None and raised.value.attempt.duration >= 0.5


def test_it_treats_a_refused_connection_as_transient(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connection = seed_connection(sandbox, organization=cast.org, outreach_user=outreach.olga)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with override_settings(OUTREACH_API_URL=f"http://127.0.0.1:{port}/api/v2"):
        with pytest.raises(OutreachError) as raised:
            OutreachClient(connection=connection).whoami()

    assert not raised.value.permanent and raised.value.attempt.status is None


def test_it_honours_retry_after_for_every_worker(
    client: OutreachClient, sandbox: SandboxControl
) -> None:
    sandbox.rate_limit_next(retry_after=30, path_prefix="/api/v2/users")

    with pytest.raises(OutreachRateLimited) as raised:
        client.find_user_by_email("rob@acme.example")
    assert not raised.value.permanent and raised.value.retry_after == 30
    assert raised.value.error_id == "rateLimitExceeded"
    seen = len(outreach_paths(sandbox))

    # Another worker, with its own client: held back without asking Outreach.
    other = OutreachClient(connection=client.connection)
    with pytest.raises(OutreachRateLimited) as again:
        other.find_user_by_email("rob@acme.example")
    assert 25 < again.value.retry_after <= 30 and again.value.attempts == []
    assert len(outreach_paths(sandbox)) == seen


def test_it_stops_at_the_hourly_budget_shared_by_all_workers(
    client: OutreachClient, sandbox: SandboxControl
) -> None:
    client.whoami()
    OutreachRateWindow.objects.filter(outreach_user_id=client.connection.outreach_user_id).update(
        used=HOURLY_LIMIT
    )
    seen = len(outreach_paths(sandbox))

    with pytest.raises(OutreachRateLimited) as raised:
        client.whoami()

    assert 0 < raised.value.retry_after <= 3600
    assert len(outreach_paths(sandbox)) == seen


def test_it_keeps_one_tenants_429_from_holding_back_another_tenants_user_with_the_same_id(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    alices = seed_connection(sandbox, organization=cast.org, outreach_user=outreach.olga)
    mallorys = seed_connection(sandbox, organization=cast.mallory_org, outreach_user=outreach.otto)
    # Outreach numbers users within each org, so both orgs have a "user 1" (the sandbox numbers
    # them across orgs: give Otto Olga's id as Outreach would).
    OutreachConnection.objects.filter(pk=mallorys.pk).update(
        outreach_user_id=alices.outreach_user_id
    )
    mallorys.refresh_from_db()
    sandbox.rate_limit_next(retry_after=600, path_prefix="/api/v2/users")

    with pytest.raises(OutreachRateLimited):
        OutreachClient(connection=mallorys).find_user_by_email("otto@other.example")
    with pytest.raises(OutreachRateLimited) as held:  # Mallory's user waits ten minutes...
        OutreachClient(connection=mallorys).whoami()
    assert held.value.attempts == [] and held.value.retry_after > 590

    # ...and Alice's user, with the same id in another Outreach org, does not wait at all.
    identity, response = OutreachClient(connection=alices).whoami()
    assert identity.org_id == outreach.org_guid and response.attempt.status == 200
    windows = OutreachRateWindow.objects.filter(outreach_user_id=alices.outreach_user_id)
    assert {(w.outreach_org_id, w.blocked_until is not None) for w in windows} == {
        (outreach.org_guid, False),
        (outreach.other_org_guid, True),
    }


def test_it_counts_every_request_in_the_shared_budget(client: OutreachClient) -> None:
    client.whoami()
    client.find_user_by_email("rob@acme.example")

    window = OutreachRateWindow.objects.get(outreach_user_id=client.connection.outreach_user_id)
    assert window.used == 2


def test_it_refreshes_once_and_retries_after_a_401(
    client: OutreachClient, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    old_token = client.connection.access_token
    sandbox.expire_tokens(outreach.olga["id"])  # Outreach ends it early; we think it is valid

    identity, response = client.whoami()

    assert identity.user_id == str(outreach.olga["id"])
    assert [a.status for a in response.attempts] == [401, 200]
    assert len(sandbox.requests(path_prefix="/oauth/token")) == 1
    assert client.connection.access_token != old_token


def test_it_refreshes_a_token_about_to_expire_before_using_it(
    cast: Cast, sandbox: SandboxControl, outreach: OutreachCast
) -> None:
    connection = seed_connection(
        sandbox, organization=cast.org, outreach_user=outreach.olga, expires_in=timedelta(minutes=2)
    )
    old_refresh = connection.refresh_token

    OutreachClient(connection=connection).whoami()

    connection.refresh_from_db()
    assert connection.refresh_token != old_refresh  # the new refresh token is stored
    assert connection.expires_at > django_timezone.now() + timedelta(hours=1)
    assert outreach_paths(sandbox) == ["/oauth/token", "/api/v2"]


@pytest.mark.fast
def test_it_spells_an_update_as_outreach_expects() -> None:
    paris = timezone(timedelta(hours=1))
    update = UpdateCall(
        call_id="7",
        state="no answer",
        state_changed_at=datetime(2025, 3, 3, 10, 0, 5, 123456, tzinfo=paris),
        voicemail_url="https://media.example.com/voicemail/1.mp3",
    )

    assert update_attributes(update) == {
        "state": "no answer",
        "stateChangedAt": "2025-03-03T09:00:05.123Z",
        "voicemailUrl": "https://media.example.com/voicemail/1.mp3",
    }
    assert describe(update) == (
        "PATCH",
        "/calls/7",
        {"data": {"type": "call", "id": 7, "attributes": update_attributes(update)}},
    )


def test_it_reads_what_outreach_has_for_a_call(
    client: OutreachClient, outreach: OutreachCast
) -> None:
    created = client.create_call(
        outreach_user_id=str(outreach.rob["id"]),
        from_number="+14155550123",
        to_number="+12065550100",
        vendor_call_id="CA-read",
    )
    client.update_call(created.call_id, attributes={"state": "no answer"})
    client.update_call(created.call_id, attributes={"voicemailUrl": "https://vm.example/1.mp3"})

    has = client.send_call_request(ReadCall(created.call_id))

    assert isinstance(has, CallAsOutreachHasIt)
    assert (has.state, has.voicemail_url) == ("no answer", "https://vm.example/1.mp3")
    assert has.state_changed_at is not None
