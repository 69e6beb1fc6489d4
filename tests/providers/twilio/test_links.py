"""Recording and voicemail links a rep can play: Outreach gets a signed link of ours, which the
portal serves by streaming the media from (the fake of) Twilio's API with the connection's
credentials, Range passed through, or by redirecting to Twilio's short-lived URL; every play is
audited; an organisation can require a sign-in and revoke every link at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from calls.models import InboxEvent
from integrations.models import ProviderConnection
from integrations.twilio.links import read_link, recording_link
from portal.audit.models import AuditEntry
from portal.tenancy.services import organization_revoke_recording_links
from tests.conftest import Cast
from tests.providers.twilio.fake_api import FakeTwilio, running_twilio
from tests.providers.twilio.phone import ACCOUNT_SID, AUTH_TOKEN, SETUP, recording
from tests.providers.twilio.test_webhook import post


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    with running_twilio() as fake:
        settings.TWILIO_API_URL = fake.base_url
        yield fake


@pytest.fixture
def connection(cast: Cast) -> ProviderConnection:
    connection = ProviderConnection(organization=cast.org, kind="twilio", name="Sales")
    connection.set_setup_values(SETUP)
    connection.save()
    return connection


def path_of(link: str) -> str:
    return link.removeprefix("http://testserver")


def test_it_gives_outreach_a_signed_link_of_ours_within_255_characters(
    connection: ProviderConnection, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = "https://callbridge.example.com"
    params = recording("CA" + "7" * 32, "completed", "DialVerb", datetime.now(UTC), 31)
    assert post(connection.webhook_url(), params).status_code == 200
    link = InboxEvent.objects.get(happening="recording_ready").link
    assert link.startswith("https://callbridge.example.com/play/") and len(link) <= 255
    names = read_link(link.rsplit("/", 1)[1])
    assert names is not None and names.recording_sid == params["RecordingSid"]
    assert names.connection_id == connection.pk


def test_it_streams_the_recording_with_the_connections_credentials_and_range(
    connection: ProviderConnection, twilio: FakeTwilio
) -> None:
    sid = twilio.add_recording()
    audio = twilio.recordings[sid]
    answer = Client().get(path_of(recording_link(connection, sid)), HTTP_RANGE="bytes=100-199")
    assert answer.status_code == 206
    assert answer["Content-Range"] == f"bytes 100-199/{len(audio)}"
    assert (answer["Content-Type"], answer["Accept-Ranges"]) == ("audio/x-wav", "bytes")
    assert b"".join(answer.streaming_content) == audio[100:200]
    assert twilio.media_requests == [{"sid": sid, "range": "bytes=100-199", "short_lived": "False"}]
    played = AuditEntry.objects.get(action="recording.played")
    assert played.data == {"recording": sid, "range": "bytes=100-199", "twilio_status": 206}
    assert played.organization_id == connection.organization_id


def test_it_redirects_to_twilios_short_lived_url_where_twilio_gives_one(
    connection: ProviderConnection, twilio: FakeTwilio
) -> None:
    twilio.redirect_media = True
    sid = twilio.add_recording()
    answer = Client().get(path_of(recording_link(connection, sid)))
    assert (answer.status_code, answer["Location"]) == (
        302,
        f"{twilio.base_url}/short-lived/{sid}",
    )
    assert AUTH_TOKEN not in answer["Location"] and ACCOUNT_SID not in answer["Location"]


def test_it_refuses_an_altered_link(connection: ProviderConnection, twilio: FakeTwilio) -> None:
    link = recording_link(connection, twilio.add_recording())
    answer = Client().get(path_of(link[:-3] + "abc"))
    assert answer.status_code == 404
    assert "altered" in answer.content.decode()
    assert twilio.media_requests == []


def test_a_revoked_link_stops_working_and_new_ones_work(
    cast: Cast, connection: ProviderConnection, twilio: FakeTwilio
) -> None:
    sid = twilio.add_recording()
    old = recording_link(connection, sid)
    organization_revoke_recording_links(organization=cast.org, actor=cast.alice)
    answer = Client().get(path_of(old))
    assert answer.status_code == 410
    assert "revoked" in answer.content.decode()
    connection.refresh_from_db()
    assert Client().get(path_of(recording_link(connection, sid))).status_code == 200
    assert AuditEntry.objects.filter(action="organization.recording_links_revoked").exists()


def test_an_organisation_may_require_a_members_sign_in(
    cast: Cast, connection: ProviderConnection, twilio: FakeTwilio
) -> None:
    cast.org.recording_links_need_sign_in = True
    cast.org.save()
    link = path_of(recording_link(connection, twilio.add_recording()))
    anonymous = Client().get(link)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    outsider = Client()
    outsider.force_login(cast.mallory)
    assert outsider.get(link).status_code == 403
    member = Client()
    member.force_login(cast.bob)
    assert member.get(link).status_code == 200
    assert AuditEntry.objects.get(action="recording.played").actor_id == cast.bob.pk


def test_a_recording_twilio_refuses_is_said_clearly(
    connection: ProviderConnection, twilio: FakeTwilio
) -> None:
    answer = Client().get(path_of(recording_link(connection, "RE" + "0" * 32)))
    assert answer.status_code == 502
    assert answer.content.decode() == (
        "Twilio refused the recording (HTTP 404): it may have been deleted, or the connection's "
        "credentials changed."
    )
    assert AuditEntry.objects.get(action="recording.played").data["twilio_status"] == 404


def test_only_an_admin_revokes_the_links_from_the_settings_page(cast: Cast) -> None:
    url = f"/o/{cast.org.slug}/settings/recording-links/revoke/"
    member = Client()
    member.force_login(cast.bob)
    assert member.post(url).status_code in (403, 404)
    admin = Client()
    admin.force_login(cast.alice)
    assert admin.post(url).status_code == 302
    cast.org.refresh_from_db()
    assert cast.org.recording_links_generation == 2
    page = admin.get(f"/o/{cast.org.slug}/settings/").content.decode()
    assert "every link already in Outreach" in page and "need a sign-in" in page
