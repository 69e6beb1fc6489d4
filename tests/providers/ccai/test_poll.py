"""Polling the call object against the local fake: what it reads, when the platform cannot be
asked, what the core's polling loop asks about (and stops asking about), and an undocumented
value noted on its call once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from calls.inbox import inbox_accept
from calls.models import Call
from calls.services import call_ask_provider, calls_poll_providers
from integrations.ccai.callobject import call_events
from integrations.ccai.models import CcaiPace
from integrations.ccai.pace import pace_hold
from integrations.ccai.provider import CcaiProvider
from integrations.events import Happening
from integrations.models import ProviderConnection
from integrations.provider import AskLater, WebhookRejected
from portal.audit.models import AuditEntry
from portal.tenancy.models import Organization
from tests.providers.ccai.fake import FakeCcai, Step


@pytest.fixture
def fake(settings: object) -> Iterator[FakeCcai]:
    with FakeCcai().running() as running:
        settings.CCAI_API_URL = running.api_url_template  # type: ignore[attr-defined]
        yield running


@pytest.fixture
def connection(db: None, fake: FakeCcai) -> ProviderConnection:
    organization = Organization.objects.create(name="Acme", slug="acme")
    found = ProviderConnection(organization=organization, kind="ccai", name="Acme CCAI")
    found.set_setup_values(fake.setup_values())
    found.save()
    return found


def call_with(fake: FakeCcai, status: str, **fields: object) -> str:
    call_id = fake.call_in()
    fake.play(call_id, [Step(0, status, dict(fields))])
    for player in fake._players:
        player.join()
    return call_id


def known(connection: ProviderConnection, fake: FakeCcai, call_id: str) -> Call:
    """The call as its first session event made it."""
    events = call_events(
        {**fake.calls[call_id], "status": "queued", "queued_at": fake.calls[call_id]["created_at"]},
        kind="ccai",
        region="US",
        end_user_number="+14155550100",
    )
    inbox_accept(connection=connection, events=events)
    return Call.objects.get(provider_call_id=call_id)


def test_it_reads_the_call_object_with_the_keys_session_events_use(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    call_id = call_with(
        fake, "finished", connected_at="now", ends_at="now", recording_url="https://r.example/1"
    )
    events = CcaiProvider().fetch_call_state(connection, call_id)
    assert events is not None
    assert [(e.dedup_key, e.happening) for e in events] == [
        (f"ccai:{call_id}:answered", Happening.ANSWERED),
        (f"ccai:{call_id}:ended", Happening.ENDED),
        (f"ccai:{call_id}:recording_ready", Happening.RECORDING_READY),
    ]


def test_it_cannot_say_when_the_platform_cannot_be_asked(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    provider = CcaiProvider()
    assert provider.fetch_call_state(connection, "404404") is None  # a call it never had
    fake.throttle_every = 1
    before = timezone.now()
    with pytest.raises(AskLater):
        provider.fetch_call_state(connection, call_with(fake, "connected"))
    assert CcaiPace.objects.get().next_free_at >= before + timedelta(seconds=1)  # 429 honoured
    fake.throttle_every = 0
    # The 429's second is everyone's: a poll does not queue behind it, it comes back later.
    asked = len(fake.requests)
    with pytest.raises(AskLater):
        provider.fetch_call_state(connection, call_with(fake, "connected"))
    assert len(fake.requests) == asked


def test_a_call_the_platform_could_not_be_asked_about_keeps_its_turn(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    first = known(connection, fake, call_with(fake, "connected", connected_at="now"))
    second = known(connection, fake, call_with(fake, "connected", connected_at="now"))
    pace_hold(connection, seconds=30)  # our share of the platform's limit is in use

    # Nothing is asked, and neither call is counted as asked: the next run asks both ...
    assert calls_poll_providers() == 0
    assert [r for r in fake.requests if r.method == "GET"] == []
    assert Call.objects.filter(provider_asked_at__isnull=False).count() == 0
    assert not AuditEntry.objects.filter(action="call.provider_asked").exists()

    CcaiPace.objects.update(next_free_at=timezone.now())
    assert calls_poll_providers() == 2
    asked = {r.path.rsplit("/", 1)[1] for r in fake.requests if r.method == "GET"}
    assert asked == {first.provider_call_id, second.provider_call_id}


def test_it_notes_an_undocumented_status_on_its_call_once(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    call_id = call_with(fake, "connected", connected_at="now")
    call = known(connection, fake, call_id)
    fake.calls[call_id]["status"] = "teleported"
    with pytest.raises(WebhookRejected, match="status 'teleported'"):
        CcaiProvider().fetch_call_state(connection, call_id)
    CcaiPace.objects.update(next_free_at=timezone.now())
    call_ask_provider(call=call, note_unchanged=False)
    CcaiPace.objects.update(next_free_at=timezone.now())
    call_ask_provider(call=call, note_unchanged=False)
    call.refresh_from_db()
    assert call.attention == (
        "The provider's answer about this call could not be read: Unmapped: status "
        "'teleported' is not one the platform documents."
    )
    noted = AuditEntry.objects.filter(action="call.provider_answer_unreadable")
    assert noted.count() == 1


def test_it_polls_calls_until_final_and_recorded(
    fake: FakeCcai, connection: ProviderConnection
) -> None:
    talking = known(connection, fake, call_with(fake, "connected", connected_at="now"))
    done = known(
        connection,
        fake,
        call_with(fake, "finished", connected_at="now", ends_at="now", recording_url="https://r/1"),
    )
    unrecorded = known(
        connection, fake, call_with(fake, "finished", connected_at="now", ends_at="now")
    )
    Call.objects.filter(pk=done.pk).update(final_state="completed", ended_at=timezone.now())
    inbox_accept(
        connection=connection,
        events=[
            e for e in CcaiProvider().fetch_call_state(connection, done.provider_call_id) or []
        ],
    )
    Call.objects.filter(pk=unrecorded.pk).update(
        final_state="completed", ended_at=timezone.now() - timedelta(minutes=20)
    )

    assert calls_poll_providers() == 1
    talking.refresh_from_db()
    assert talking.provider_asked_at is not None
    assert talking.events.filter(happening=Happening.ANSWERED).exists()
    # Asked again only once `every` has passed.
    assert calls_poll_providers() == 0
    Call.objects.filter(pk=talking.pk).update(
        provider_asked_at=timezone.now() - timedelta(seconds=6)
    )
    CcaiPace.objects.update(next_free_at=timezone.now())
    assert calls_poll_providers() == 1
